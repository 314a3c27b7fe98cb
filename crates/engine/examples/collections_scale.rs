//! The 1:N index at scale through the database: how long a process takes to load N templates
//! at start (`CollectionIndex::load`: keyset pages of rows, template checks, quantisation), what a
//! search's catch-up with the change log costs when nothing changed, and the database part of
//! adding a person photo (transaction + change log + catch-up; the embedding is measured in the
//! pipeline bench).
//!
//! ```text
//! cargo run --release -p oz-engine --example collections_scale -- 1000000
//! DATABASE_URL=postgres://... cargo run --release -p oz-engine --example collections_scale -- 1000000
//! ```
//! Templates are the real SFace templates of `crates/index/benches/data/templates.f32` plus
//! Gaussian noise (the same recipe as oz-index's own bench). Rows are written with multi-row
//! inserts straight into the tables (setting up 1M photos through the API would take hours).

use std::time::Instant;

use oz_engine::collections::{CollectionIndex, Query};
use oz_storage::Db;
use oz_storage::collections::NewPersonImage;
use oz_vision::template::Template;
use serde_json::json;
use uuid::Uuid;

const DIM: usize = 128;
const MODEL: [u8; 8] = *b"benchmdl";

/// xorshift + Box-Muller: deterministic noise without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn gauss(&mut self) -> f32 {
        let (u, v) = (self.next().max(1e-12), self.next());
        ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
    }
}

fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
}

fn noisy(base: &[f32], sigma: f32, rng: &mut Rng) -> Vec<f32> {
    let mut v: Vec<f32> = base.iter().map(|x| x + sigma * rng.gauss()).collect();
    normalise(&mut v);
    v
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|k| k.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("oz-scale-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}?mode=rwc", dir.join("scale.db").display()));
    let db = Db::connect(&url).await?;
    println!("backend {:?}, {n} templates", db.backend());

    let raw = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../index/benches/data/templates.f32"))?;
    let real: Vec<Vec<f32>> = raw
        .chunks_exact(DIM * 4)
        .map(|c| c.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
        .collect();

    let company = db.create_company(&format!("scale-{}", Uuid::new_v4().simple()), &json!({})).await?;
    let collection = db.create_collection(company.id, "blacklist", &json!({})).await?;

    // Bulk rows: 2 photos per person, straight into the tables.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let t0 = Instant::now();
    let per_person = 2;
    let batch = 500;
    let mut written = 0usize;
    let info = json!({}).to_string();
    let mut probe: Option<Vec<f32>> = None;
    while written < n {
        let mut tx = pool.begin().await?;
        let persons = (batch / per_person).min((n - written).div_ceil(per_person));
        let mut psql = String::from(
            "insert into persons (id, collection_id, company_id, meta_data, time_created, time_updated) values ",
        );
        let mut isql = String::from(
            "insert into person_images (id, person_id, collection_id, company_id, original_name, file_name, \
             mime_type, size, md5, info, tags, meta_data, model_id, template, time_created) values ",
        );
        let mut pids = Vec::new();
        let mut imgs: Vec<(Uuid, Uuid, Vec<u8>)> = Vec::new();
        for p in 0..persons {
            let pid = Uuid::new_v4();
            let base = noisy(&real[rng.0 as usize % real.len()], 0.15, &mut rng);
            for _ in 0..per_person {
                if written + imgs.len() >= n {
                    break;
                }
                let v = noisy(&base, 0.055, &mut rng);
                imgs.push((Uuid::new_v4(), pid, Template { model_id: MODEL, vector: v }.to_bytes()));
            }
            if probe.is_none() {
                probe = Some(noisy(&base, 0.055, &mut rng));
            }
            psql.push_str(&format!(
                "{}(${}, ${}, ${}, '{{}}', 0, 0)",
                if p > 0 { ", " } else { "" },
                3 * p + 1,
                3 * p + 2,
                3 * p + 3
            ));
            pids.push(pid);
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(psql));
        for pid in &pids {
            q = q.bind(pid.to_string()).bind(collection.id.to_string()).bind(company.id.to_string());
        }
        q.execute(&mut *tx).await?;
        for (i, _) in imgs.iter().enumerate() {
            let b = 6 * i;
            isql.push_str(&format!(
                "{}(${}, ${}, ${}, ${}, 'x.jpg', ${}, 'image/jpeg', 0, '', '{info}', '[]', '{{}}', 'benchmdl', ${}, 0)",
                if i > 0 { ", " } else { "" },
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6
            ));
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(isql));
        for (iid, pid, t) in &imgs {
            q = q
                .bind(iid.to_string())
                .bind(pid.to_string())
                .bind(collection.id.to_string())
                .bind(company.id.to_string())
                .bind(format!("{}.jpg", iid.simple()))
                .bind(t.clone());
        }
        q.execute(&mut *tx).await?;
        tx.commit().await?;
        written += imgs.len();
    }
    println!("wrote {written} photo rows in {:.1} s", t0.elapsed().as_secs_f64());
    pool.close().await;

    // Where a load's time goes: reading the rows alone, then parsing the templates alone.
    let t = Instant::now();
    let mut rows = Vec::with_capacity(n);
    let mut after = String::new();
    loop {
        let page = db.templates_page(Some(&after), None, 5_000).await?;
        let Some(last) = page.last() else { break };
        after = last.image_id.to_string();
        let short = page.len() < 5_000;
        rows.extend(page);
        if short {
            break;
        }
    }
    let read_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let parsed = rows.iter().filter(|r| Template::from_bytes(&r.template, &MODEL, DIM).is_ok()).count();
    println!(
        "read {} rows in {read_s:.2} s; parsed {parsed} templates in {:.2} s",
        rows.len(),
        t.elapsed().as_secs_f64()
    );
    drop(rows);

    // Start-up load, as `oz-server serve` does it.
    let rss0 = rss_mb();
    let index = CollectionIndex::new(MODEL, DIM, 2);
    let t = Instant::now();
    index.load(&db).await?;
    let load_s = t.elapsed().as_secs_f64();
    println!(
        "load: {} templates in {load_s:.2} s; memory_bytes {:.1} MB; RSS +{:.1} MB",
        index.len(),
        index.memory_bytes() as f64 / 1e6,
        rss_mb() - rss0
    );

    // Each search first catches up with the change log: its cost when nothing changed.
    let mut catch = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        index.catch_up(&db).await?;
        catch.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "catch-up, nothing new: p50 {:.3} ms, p90 {:.3} ms",
        percentile(&mut catch, 0.5),
        percentile(&mut catch, 0.9)
    );

    let probe = probe.unwrap_or_else(|| real[0].clone());
    let mut search = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let hits =
            index.search(&Query { vector: &probe, collections: &[collection.id], min_cosine: 0.45, limit: 10 })?;
        search.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(!hits.is_empty(), "the probe's person is in the collection");
    }
    println!(
        "search 2 threads: p50 {:.1} ms, p90 {:.1} ms",
        percentile(&mut search, 0.5),
        percentile(&mut search, 0.9)
    );

    // The database part of adding a photo to a person: transaction with its change-log row, then
    // this process's catch-up (what `POST .../images/` does after the embedding and the file write).
    let (person, _) = db.create_person(&collection, &json!({}), &[]).await?;
    let mut add = Vec::new();
    for i in 0..200 {
        let v = noisy(&real[i % real.len()], 0.05, &mut rng);
        let photo = NewPersonImage {
            id: Uuid::new_v4(),
            file: oz_storage::StoredFile {
                original_name: "p.jpg".into(),
                file_name: format!("{}.jpg", Uuid::new_v4().simple()),
                mime_type: "image/jpeg".into(),
                size: 0,
                md5: String::new(),
                info: json!({}),
            },
            tags: Vec::new(),
            meta_data: json!({}),
            model_id: hex::encode(MODEL),
            template: Template { model_id: MODEL, vector: v }.to_bytes(),
        };
        let t = Instant::now();
        db.add_person_images(&person, &[photo]).await?;
        index.catch_up(&db).await?;
        add.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "add a photo (db + change log + catch-up): p50 {:.2} ms, p90 {:.2} ms; index now {}",
        percentile(&mut add, 0.5),
        percentile(&mut add, 0.9),
        index.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
