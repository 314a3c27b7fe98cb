//! Blacklist collections and the COLLECTION (1:N) analysis over real HTTP with real photos, on
//! SQLite and PostgreSQL: endpoints, roles and tenant isolation, a hit and a miss, deletion
//! reaching the index, and two server processes on one database seeing the same index.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{C, Kind, Options, TestServer, fixture, login, start, start_beside};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

fn photo(rel: &str) -> Part {
    let name = rel.rsplit('/').next().unwrap_or(rel).to_string();
    let ct = if rel.ends_with(".png") { "image/png" } else { "image/jpeg" };
    Part::bytes(fixture(rel)).file_name(name).mime_str(ct).expect("mime")
}

fn person_form(rel: &str, first_name: &str) -> Form {
    Form::new().part("image1", photo(rel)).part(
        "payload",
        Part::text(
            json!({
                "media:tags": { "image1": ["photo_selfie", "orientation_portrait"] },
                "person:meta_data": { "person_info": { "first_name": first_name, "last_name": "Test" } },
            })
            .to_string(),
        ),
    )
}

fn oz_error(v: &Value, code: i64) {
    assert_eq!(v["error_code"], code, "{v}");
    assert!(v["error_message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

/// A company with a CLIENT ADMIN and a CLIENT: (company_id, admin token, client token).
async fn company(admin: &C<'_>, tag: &str) -> (String, String, String) {
    let (st, c) = admin.post("/api/companies/", json!({ "name": format!("co-{tag}") })).await;
    assert_eq!(st, 201, "{c}");
    let cid = c["company_id"].as_str().expect("id").to_string();
    let mut tokens = Vec::new();
    for (who, user_type) in [("admin", "CLIENT_ADMIN"), ("client", "CLIENT")] {
        let email = format!("{who}-{tag}@example.com");
        let (st, u) = admin
            .post(
                "/api/users/",
                json!({ "email": email, "password": "password-123", "user_type": user_type, "company_id": cid }),
            )
            .await;
        assert_eq!(st, 201, "{u}");
        tokens.push(login(admin.s, &email, "password-123").await);
    }
    let client = tokens.pop().expect("client");
    let cadmin = tokens.pop().expect("admin");
    (cid, cadmin, client)
}

/// Uploads one photo as a folder and runs a COLLECTION analysis on it; answers the finished analysis.
async fn search(c: &C<'_>, rel: &str, params: Value) -> (u16, Value) {
    let form = Form::new()
        .part("photo1", photo(rel))
        .part("payload", Part::text(json!({ "media:tags": { "photo1": ["photo_selfie"] } }).to_string()));
    let (st, f) = c.upload("/api/folders/", form).await;
    assert_eq!(st, 201, "{f}");
    let fid = f["folder_id"].as_str().expect("folder id").to_string();
    // As the mobile SDKs send it: no trailing slash, lower-case type.
    let (st, a) = c
        .post(
            &format!("/api/folders/{fid}/analyses"),
            json!({ "analyses": [{ "type": "collection", "params": params }] }),
        )
        .await;
    if st != 201 {
        return (st, a);
    }
    let id = a[0]["analysis_id"].as_str().expect("analysis id").to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (st, a) = c.get(&format!("/api/analyses/{id}")).await;
        assert_eq!(st, 200, "{a}");
        if a["resolution_status"] != "PROCESSING" {
            assert_eq!(a["type"], "COLLECTION", "{a}");
            return (200, a);
        }
        assert!(Instant::now() < deadline, "analysis did not finish: {a}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn persons_found(a: &Value) -> Vec<Value> {
    a["results_media"][0]["collection_persons"].as_array().cloned().unwrap_or_default()
}

both!(collections_flow, collections_flow_body);
async fn collections_flow_body(kind: Kind) {
    // No grace: the file sweeper (run below) would take any file no row references.
    let Some(s) = start(kind, Options { sweep_grace: Duration::ZERO, ..Options::default() }).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (a_id, a_admin, a_client) = company(&admin, &format!("a-{kind:?}")).await;
    let (_, b_admin, _) = company(&admin, &format!("b-{kind:?}")).await;
    let (a_admin, a_client, b_admin) =
        (C { s: &s, token: a_admin }, C { s: &s, token: a_client }, C { s: &s, token: b_admin });

    // Collections: a company admin creates its company's; a plain client cannot; aliases are unique per company.
    let (st, e) = a_client.post("/api/collections/", json!({ "alias": "blacklist" })).await;
    assert_eq!(st, 403, "{e}");
    oz_error(&e, 9);
    let (st, col) = a_admin.post("/api/collections/", json!({ "alias": "blacklist" })).await;
    assert_eq!(st, 201, "{col}");
    assert_eq!(col["company_id"], a_id.as_str());
    let cid = col["collection_id"].as_str().expect("collection id").to_string();
    let (st, e) = a_admin.post("/api/collections", json!({ "alias": "blacklist" })).await;
    assert_eq!(st, 400, "{e}");
    oz_error(&e, 4);
    let (st, e) = a_admin.post("/api/collections/", json!({ "company_id": a_id })).await;
    assert_eq!(st, 400, "{e}");
    // An old SDK lists the collections and picks alias "blacklist": an array.
    let (st, list) = a_client.get("/api/collections").await;
    assert_eq!(st, 200);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["alias"], "blacklist");
    let (_, by_alias) = a_client.get("/api/collections/?alias=blacklist").await;
    assert_eq!(by_alias[0]["collection_id"], cid.as_str());

    // Another company sees none of it.
    let (st, list) = b_admin.get("/api/collections/").await;
    assert_eq!((st, list), (200, json!([])));
    let (st, e) = b_admin.get(&format!("/api/collections/{cid}/")).await;
    assert_eq!(st, 404, "{e}");
    oz_error(&e, 10);
    let (st, _) = b_admin
        .upload(&format!("/api/collections/{cid}/persons/"), person_form("faces/live/obama__portrait.jpg", "X"))
        .await;
    assert_eq!(st, 404);
    assert_eq!(b_admin.delete(&format!("/api/collections/{cid}")).await, 404);

    // Persons: one face per photo, embedded at upload.
    let persons = format!("/api/collections/{cid}/persons/");
    let (st, e) = a_client.upload(&persons, person_form("faces/live/obama__portrait.jpg", "Barack")).await;
    assert_eq!(st, 403, "{e}");
    let (st, obama) = a_admin.upload(&persons, person_form("faces/live/obama__portrait.jpg", "Barack")).await;
    assert_eq!(st, 201, "{obama}");
    let obama_id = obama["person_id"].as_str().expect("person id").to_string();
    assert_eq!(obama["meta_data"]["person_info"]["first_name"], "Barack");
    assert_eq!(obama["images"].as_array().map(Vec::len), Some(1), "{obama}");
    assert_eq!(obama["images"][0]["tags"], json!(["photo_selfie", "orientation_portrait"]));
    let url = obama["images"][0]["original_url"].as_str().expect("url").to_string();
    let r =
        reqwest::Client::new().get(&url).header("X-Forensic-Access-Token", &a_client.token).send().await.expect("get");
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.expect("bytes").as_ref(), fixture("faces/live/obama__portrait.jpg").as_slice());
    // The sweeper knows person photos are referenced.
    s.engine.sweep().await.expect("sweep");
    let r = reqwest::Client::new().get(&url).send().await.expect("get");
    assert_eq!(r.status(), 200, "the signed link still serves the photo after a sweep");
    let path = url.split('?').next().expect("path").to_string();
    let r =
        reqwest::Client::new().get(&path).header("X-Forensic-Access-Token", &b_admin.token).send().await.expect("get");
    assert_eq!(r.status(), 404, "another company's person photo");

    for (rel, why) in [("faces/extra/cat.png", "no face"), ("faces/extra/group_t1.jpg", "several faces")] {
        let (st, e) = a_admin.upload(&persons, person_form(rel, "Nobody")).await;
        assert_eq!(st, 400, "{why}: {e}");
        oz_error(&e, 4);
    }
    let (st, biden) = a_admin.upload(&persons, person_form("faces/live/biden__full.jpg", "Joe")).await;
    assert_eq!(st, 201, "{biden}");
    let (st, page) = a_client.get(&format!("{persons}?offset=0&limit=1")).await;
    assert_eq!(st, 200);
    assert_eq!(page["total"], 2, "refused photos left no person: {page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));

    // More photos of a person.
    let images = format!("/api/collections/{cid}/persons/{obama_id}/images/");
    let (st, added) = a_admin.upload(&images, Form::new().part("image1", photo("faces/live/obama__full.jpg"))).await;
    assert_eq!(st, 201, "{added}");
    let second = added[0]["image_id"].as_str().expect("image id").to_string();
    let (st, list) = a_client.get(&images).await;
    assert_eq!((st, list.as_array().map(Vec::len)), (200, Some(2)));
    let (st, one) = a_client.get(&format!("{images}{second}")).await;
    assert_eq!((st, one["image_id"].as_str()), (200, Some(second.as_str())));

    // Collection metadata.
    let meta = format!("/api/collections/{cid}/meta_data");
    let (st, _) = a_client.post(&meta, json!({ "source": "watchlist-7" })).await;
    assert_eq!(st, 403);
    let (st, m) = a_admin.post(&meta, json!({ "source": "watchlist-7" })).await;
    assert_eq!(st, 200, "{m}");
    let (_, m) = a_client.get(&meta).await;
    assert_eq!(m["source"], "watchlist-7");

    // A hit: another photo of a listed person declines the analysis and names the person.
    let (st, a) = search(&a_client, "faces/live/obama__podium.jpg", json!({})).await;
    assert_eq!(st, 200, "{a}");
    assert_eq!(a["resolution_status"], "DECLINED", "{a}");
    let found = persons_found(&a);
    assert!(!found.is_empty(), "{a}");
    assert_eq!(found[0]["person_id"], obama_id.as_str(), "{a}");
    assert_eq!(found[0]["collection_id"], cid.as_str());
    let conf = found[0]["confidence"].as_f64().expect("confidence");
    assert!(conf >= a["confs"]["decision_threshold"].as_f64().expect("threshold"), "{a}");
    assert!(found.iter().all(|p| p["person_id"] != biden["person_id"]), "Biden is not Obama: {a}");
    assert_eq!(a["confs"]["collection_ids"], json!([cid]));
    // Oz's `collection` object, with the alias.
    assert_eq!(a["collection"]["collection_id"], json!(cid), "{a}");
    assert_eq!(a["collection"]["alias"], "blacklist", "{a}");

    // A miss: someone not listed.
    let (_, a) = search(&a_client, "faces/live/collins__astronaut.png", json!({ "collection_id": cid })).await;
    assert_eq!(a["resolution_status"], "SUCCESS", "{a}");
    assert_eq!(persons_found(&a), Vec::<Value>::new(), "{a}");

    // Parameters are checked before anything runs.
    for bad in [json!({ "decision_threshold": 2 }), json!({ "decision_count": 0 }), json!({ "collection_id": "nope" })]
    {
        let (st, e) = search(&a_client, "faces/live/obama__podium.jpg", bad.clone()).await;
        assert_eq!(st, 400, "{bad}: {e}");
        oz_error(&e, 4);
    }
    // Company B cannot search company A's collection, and has none of its own.
    let (st, e) = search(&b_admin, "faces/live/obama__podium.jpg", json!({ "collection_id": cid })).await;
    assert_eq!(st, 400, "{e}");
    let (st, e) = search(&b_admin, "faces/live/obama__podium.jpg", json!({})).await;
    assert_eq!(st, 400, "{e}");

    // Deleting the person takes it out of the index before the delete answers.
    assert_eq!(a_client.delete(&format!("/api/collections/{cid}/persons/{obama_id}")).await, 403);
    assert_eq!(a_admin.delete(&format!("/api/collections/{cid}/persons/{obama_id}/")).await, 204);
    let (st, _) = a_client.get(&format!("/api/collections/{cid}/persons/{obama_id}")).await;
    assert_eq!(st, 404);
    let (_, a) = search(&a_client, "faces/live/obama__podium.jpg", json!({})).await;
    assert_eq!(a["resolution_status"], "SUCCESS", "{a}");
    assert!(persons_found(&a).is_empty(), "{a}");
    let r =
        reqwest::Client::new().get(&path).header("X-Forensic-Access-Token", &a_admin.token).send().await.expect("get");
    assert_eq!(r.status(), 404, "the deleted person's photo is gone");

    // Deleting the collection.
    assert_eq!(a_admin.delete(&format!("/api/collections/{cid}/")).await, 204);
    let (st, _) = a_admin.get(&format!("/api/collections/{cid}")).await;
    assert_eq!(st, 404);
    assert_eq!(s.engine.collections.len(), 0, "the index is empty: {:?}", s.engine.collections);
}

/// Searches the podium photo of Obama in `s`'s own index, caught up as before any search.
async fn search_index(s: &TestServer, collection: &str) -> Vec<oz_index::Hit> {
    s.engine.collections.catch_up(&s.db).await.expect("catch up");
    let p = common::pipeline();
    let img = p.decode_image(&fixture("faces/live/obama__podium.jpg")).expect("decode");
    let vector = p.extract(&img).expect("face").vector;
    let cid = uuid::Uuid::parse_str(collection).expect("id");
    let min_cosine = oz_domain::decision::cosine_from_score(0.85);
    s.engine
        .collections
        .search(&oz_engine::collections::Query { vector: &vector, collections: &[cid], min_cosine, limit: 10 })
        .expect("search")
}

both!(two_processes, two_processes_body);
async fn two_processes_body(kind: Kind) {
    let Some(s1) = start(kind, Options::default()).await else { return };
    let s2 = start_beside(&s1, Options::default()).await;
    let admin1 = C { s: &s1, token: common::admin_token(&s1).await };
    let (_, cadmin, client) = company(&admin1, &format!("p-{kind:?}")).await;
    let cadmin1 = C { s: &s1, token: cadmin };
    // The same tokens work on the second process (one database).
    let client2 = C { s: &s2, token: client };

    let (st, col) = cadmin1.post("/api/collections/", json!({ "alias": "blacklist" })).await;
    assert_eq!(st, 201, "{col}");
    let cid = col["collection_id"].as_str().expect("id").to_string();
    let (st, p) = cadmin1
        .upload(&format!("/api/collections/{cid}/persons/"), person_form("faces/live/obama__portrait.jpg", "B"))
        .await;
    assert_eq!(st, 201, "{p}");
    let pid = p["person_id"].as_str().expect("id").to_string();

    // Added through process 1, found by process 2's workers.
    let (_, a) = search(&client2, "faces/live/obama__podium.jpg", json!({})).await;
    assert_eq!(a["resolution_status"], "DECLINED", "{a}");
    assert_eq!(persons_found(&a)[0]["person_id"], pid.as_str(), "{a}");
    // Whichever process's worker ran it (one queue on PostgreSQL), process 2's own index finds it.
    let hits = search_index(&s2, &cid).await;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].person_id.to_string(), pid);

    // Deleted through process 1: process 2 no longer finds it, at once.
    assert_eq!(cadmin1.delete(&format!("/api/collections/{cid}/persons/{pid}")).await, 204);
    let (_, a) = search(&client2, "faces/live/obama__podium.jpg", json!({})).await;
    assert_eq!(a["resolution_status"], "SUCCESS", "{a}");
    assert!(persons_found(&a).is_empty(), "{a}");
    assert_eq!(search_index(&s2, &cid).await, Vec::new());
    assert_eq!(s2.engine.collections.len(), 0);

    // A process that starts later loads the same index from the database.
    let (st, _) = cadmin1
        .upload(&format!("/api/collections/{cid}/persons/"), person_form("faces/live/biden__full.jpg", "J"))
        .await;
    assert_eq!(st, 201);
    let s3 = start_beside(&s1, Options::default()).await;
    s3.engine.collections.load(&s3.db).await.expect("load");
    assert_eq!(s3.engine.collections.len(), 1);
}

both!(hostile_collection_inputs, hostile_collection_inputs_body);
/// What an attacker sends to the collection routes and what answers: never a 5xx, never a
/// person created from something that is not one face photo.
async fn hostile_collection_inputs_body(kind: Kind) {
    let Some(s) = start(kind, Options::default()).await else { return };
    let admin = C { s: &s, token: common::admin_token(&s).await };
    let (_, cadmin, _) = company(&admin, &format!("h-{kind:?}")).await;
    let cadmin = C { s: &s, token: cadmin };
    let (st, col) = cadmin.post("/api/collections/", json!({ "alias": "blacklist" })).await;
    assert_eq!(st, 201, "{col}");
    let cid = col["collection_id"].as_str().expect("id").to_string();
    let persons = format!("/api/collections/{cid}/persons/");

    // Not photos: a video, a zip, garbage, a PNG header claiming 50k x 50k, a JSON payload that is not JSON.
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R'];
    png.extend_from_slice(&50_000u32.to_be_bytes());
    png.extend_from_slice(&50_000u32.to_be_bytes());
    png.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    let mut zip = Vec::new();
    {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(&mut zip));
        w.start_file("1.jpg", zip::write::SimpleFileOptions::default()).expect("zip");
        std::io::Write::write_all(&mut w, &fixture("faces/live/obama__portrait.jpg")).expect("zip");
        w.finish().expect("zip");
    }
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("video", fixture("videos/portrait_720x1280.mp4")),
        ("zip", zip),
        ("garbage", b"<MPD><BaseURL>http://127.0.0.1:1/</BaseURL></MPD>".to_vec()),
        ("png bomb header", png),
        ("empty", Vec::new()),
    ];
    for (what, bytes) in bodies {
        let form =
            Form::new().part("image1", Part::bytes(bytes).file_name("x.jpg").mime_str("image/jpeg").expect("mime"));
        let (st, e) = cadmin.upload(&persons, form).await;
        assert!(st == 400 || st == 413, "{what}: {st} {e}");
        assert!(e["error_code"].as_i64().is_some(), "{what}: {e}");
    }
    let form =
        Form::new().part("image1", photo("faces/live/obama__portrait.jpg")).part("payload", Part::text("{not json"));
    let (st, e) = cadmin.upload(&persons, form).await;
    assert_eq!(st, 400, "{e}");
    let (st, e) = cadmin.post(&persons, json!({ "person:meta_data": {} })).await;
    assert_eq!(st, 400, "JSON instead of multipart: {e}");
    let (_, page) = cadmin.get(&persons).await;
    assert_eq!(page["total"], 0, "nothing was created: {page}");

    // Odd ids and aliases.
    for path in ["/api/collections/not-a-uuid/", "/api/collections/%00/persons/", &format!("{persons}..%2F..%2Fetc/")] {
        let (st, e) = cadmin.get(path).await;
        assert!(st == 404 || st == 400, "{path}: {st} {e}");
    }
    let (st, e) = cadmin.post("/api/collections/", json!({ "alias": "x".repeat(300) })).await;
    assert_eq!((st, e["error_code"].as_i64()), (400, Some(4)), "{e}");
    let (st, e) = cadmin.post("/api/collections/", json!({ "alias": ["blacklist"] })).await;
    assert_eq!(st, 400, "{e}");
    let (st, e) = cadmin.post("/api/collections/", json!({ "alias": "b", "company_id": "../../" })).await;
    assert_eq!((st, e["error_code"].as_i64()), (400, Some(4)), "{e}");

    // Decision bodies: not JSON, a huge comment, a verdict of the wrong type.
    let id = uuid::Uuid::new_v4();
    let (st, _) = cadmin.post(&format!("/api/analyses/{id}/resolution"), json!({ "resolution_status": 1 })).await;
    assert_eq!(st, 404, "an analysis that does not exist");
    assert!(s.engine.collections.is_empty());
}
