//! `oz-server eval --challenges MANIFEST`: liveness challenges against attacks, per attack kind.
//!
//! The manifest (JSON) lists clips with what each really shows:
//! `{"clips": [{"file": "...", "kind": "live" | <attack kind>, "performs": ["turn_left", ...]}]}`
//! (`file` relative to the manifest's folder). Each clip is analysed once
//! ([`oz_vision::Pipeline::challenge_evidence`]); then it is checked against challenges:
//!
//! - `live`: against the sequence it performs (bona fide: a failure counts in BPCER);
//! - `replay_of_another_session` (made from every live clip): against `--challenge-draws` random
//!   challenges of the default policy that differ from what the clip performs (a recording of an
//!   earlier session shown to a fresh challenge);
//! - `wrong_order` (made from every live clip of two or more actions): against every other
//!   order of its actions (no action twice in a row);
//! - any other kind (`static_photo`, `zoomed_photo`, `spliced_identity`, `spliced_take`, ...):
//!   against the sequence the clip performs when it lists one (the attacker did the right
//!   actions, but with the wrong person or in two takes), else against the random challenges.
//!
//! APCER of a kind = challenges passed / challenges tried; BPCER = live clips failed / live clips.

use std::path::{Path, PathBuf};

use oz_domain::challenge::{Action, ChallengePolicy};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Manifest {
    clips: Vec<Clip>,
}

#[derive(Debug, Deserialize)]
struct Clip {
    file: String,
    kind: String,
    #[serde(default)]
    performs: Vec<String>,
}

/// A seeded source for drawing challenges: the same manifest gives the same table. Not for
/// issuing challenges (the server uses the thread's CSPRNG).
fn seeded() -> rand::rngs::StdRng {
    rand::SeedableRng::seed_from_u64(0x6f7a_6f7a)
}

/// Every order of `actions` other than `actions` itself with no action twice in a row.
fn other_orders(actions: &[Action]) -> Vec<Vec<Action>> {
    fn permute(rest: &mut Vec<Action>, cur: &mut Vec<Action>, out: &mut Vec<Vec<Action>>) {
        if rest.is_empty() {
            out.push(cur.clone());
            return;
        }
        for i in 0..rest.len() {
            let a = rest.remove(i);
            if cur.last() != Some(&a) {
                cur.push(a);
                permute(rest, cur, out);
                cur.pop();
            }
            rest.insert(i, a);
        }
    }
    let mut out = Vec::new();
    permute(&mut actions.to_vec(), &mut Vec::new(), &mut out);
    // Repeated actions give the same order twice: keep the first of each.
    let mut unique: Vec<Vec<Action>> = Vec::new();
    for o in out {
        if o.as_slice() != actions && !unique.contains(&o) {
            unique.push(o);
        }
    }
    unique
}

#[derive(Default)]
struct Tally {
    clips: usize,
    tried: usize,
    passed: usize,
    /// Why the failures failed (first reason word), for the table.
    reasons: std::collections::BTreeMap<String, usize>,
}

/// Runs the challenge evaluation and prints its table.
pub fn run(p: &oz_vision::Pipeline, manifest: &Path, draws: usize, approve: f32) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(manifest).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", manifest.display()))?;
    let m: Manifest = serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", manifest.display()))?;
    let base = manifest.parent().map_or_else(PathBuf::new, Path::to_path_buf);
    let policy = ChallengePolicy::default();
    let mut rng = seeded();
    let mut tallies: std::collections::BTreeMap<String, Tally> = std::collections::BTreeMap::new();
    let mut record = |kind: &str, passed: bool, reason: Option<&str>| {
        let t = tallies.entry(kind.to_string()).or_default();
        t.tried += 1;
        if passed {
            t.passed += 1;
        } else if let Some(r) = reason {
            let key = r.split([':', ';', '(']).next().unwrap_or(r).trim().to_string();
            *t.reasons.entry(key).or_default() += 1;
        }
    };
    let mut counted: Vec<(String, String)> = Vec::new();
    println!("\nChallenge clips ({}):", manifest.display());
    for clip in &m.clips {
        let path = base.join(&clip.file);
        let performs = clip
            .performs
            .iter()
            .map(|a| Action::parse(a).ok_or_else(|| anyhow::anyhow!("{}: unknown action '{a}'", clip.file)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let bytes = std::fs::read(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let t0 = std::time::Instant::now();
        let media = p.decode_for_challenge(&bytes, &p.request_budget())?;
        let evidence = p.challenge_evidence(&media)?;
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        let mut draw_others = |n: usize| -> Vec<Vec<Action>> {
            let mut out = Vec::new();
            for _ in 0..n * 20 {
                if out.len() >= n {
                    break;
                }
                let c = policy.draw(&mut |k| rand::Rng::random_range(&mut rng, 0..k.max(1)));
                if c != performs {
                    out.push(c);
                }
            }
            out
        };
        let mut kinds_of_clip: Vec<&str> = Vec::new();
        if clip.kind == "live" {
            let c = evidence.verdict(&performs, approve);
            record("live (bona fide)", c.passed, c.reason.as_deref());
            kinds_of_clip.push("live (bona fide)");
            for ch in draw_others(draws) {
                let c = evidence.verdict(&ch, approve);
                record("replay_of_another_session", c.passed, c.reason.as_deref());
            }
            kinds_of_clip.push("replay_of_another_session");
            let orders = other_orders(&performs);
            if !orders.is_empty() {
                for o in orders {
                    let c = evidence.verdict(&o, approve);
                    record("wrong_order", c.passed, c.reason.as_deref());
                }
                kinds_of_clip.push("wrong_order");
            }
        } else if !performs.is_empty() {
            let c = evidence.verdict(&performs, approve);
            record(&clip.kind, c.passed, c.reason.as_deref());
            kinds_of_clip.push(&clip.kind);
        } else {
            for ch in draw_others(draws) {
                let c = evidence.verdict(&ch, approve);
                record(&clip.kind, c.passed, c.reason.as_deref());
            }
            kinds_of_clip.push(&clip.kind);
        }
        for k in kinds_of_clip {
            counted.push((k.to_string(), clip.file.clone()));
        }
        println!("  {} [{}] performs [{}]: analysed in {ms:.0} ms", clip.file, clip.kind, clip.performs.join(","));
    }
    for (kind, _) in &counted {
        if let Some(t) = tallies.get_mut(kind) {
            t.clips += 1;
        }
    }
    println!(
        "\nLiveness challenges: {} random challenges per clip where drawn (default policy: 2-4 actions of 6, at least one head movement)",
        draws
    );
    println!("{:<28} {:>5} {:>9} {:>8} {:>9}  why the others failed", "kind", "clips", "checks", "passed", "rate");
    for (kind, t) in &tallies {
        let rate = if t.tried == 0 { 0.0 } else { t.passed as f64 / t.tried as f64 };
        let (label, shown) = if kind.starts_with("live") { ("BPCER", 1.0 - rate) } else { ("APCER", rate) };
        let why: Vec<String> = t.reasons.iter().map(|(r, n)| format!("{r} ({n})")).collect();
        println!(
            "{kind:<28} {:>5} {:>9} {:>8} {label} {:>5.1} %  {}",
            t.clips,
            t.tried,
            t.passed,
            shown * 100.0,
            why.join("; ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::{Blink, LookUp, TurnLeft};

    #[test]
    fn other_orders_have_no_repeat_and_not_the_original() {
        let o = other_orders(&[TurnLeft, Blink, LookUp]);
        assert_eq!(o.len(), 5);
        assert!(o.iter().all(|x| x.windows(2).all(|w| w[0] != w[1])));
        assert!(!o.contains(&vec![TurnLeft, Blink, LookUp]));
        // A palindrome has one other order with no repeat: none here.
        assert!(other_orders(&[TurnLeft, Blink, TurnLeft]).iter().all(|x| x.windows(2).all(|w| w[0] != w[1])));
        assert!(other_orders(&[Blink]).is_empty());
    }

    #[test]
    fn the_draws_are_repeatable() {
        let policy = ChallengePolicy::default();
        let (mut a, mut b) = (seeded(), seeded());
        let draw = |r: &mut rand::rngs::StdRng| policy.draw(&mut |k| rand::Rng::random_range(r, 0..k.max(1)));
        assert_eq!(draw(&mut a), draw(&mut b));
    }
}
