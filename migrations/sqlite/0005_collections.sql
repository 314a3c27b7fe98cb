-- Blacklist collections (1:N search, spec §10): company-owned collections of persons, each with
-- face photos whose templates are kept here and, in every process, in an in-memory index.

create table collections (
    id text primary key,
    company_id text not null references companies(id) on delete cascade,
    alias text not null,
    meta_data text not null default '{}',
    time_created real not null,
    time_updated real not null,
    unique (company_id, alias)
);

create table persons (
    id text primary key,
    collection_id text not null references collections(id) on delete cascade,
    company_id text not null,
    meta_data text not null default '{}',
    time_created real not null,
    time_updated real not null
);
create index persons_collection on persons(collection_id, time_created);

-- One face photo of a person: the stored file, Oz's media facts and the face template (the OZFT
-- binary format of oz-vision, which names the embedder model; model_id repeats it for queries).
create table person_images (
    id text primary key,
    person_id text not null references persons(id) on delete cascade,
    collection_id text not null,
    company_id text not null,
    original_name text not null,
    file_name text not null,
    mime_type text not null,
    size integer not null,
    md5 text not null,
    info text not null,
    tags text not null default '[]',
    meta_data text not null default '{}',
    model_id text not null,
    template blob not null,
    time_created real not null
);
create index person_images_person on person_images(person_id, time_created);
create index person_images_collection on person_images(collection_id);
create index person_images_file on person_images(file_name);

-- Every change to the templates, in commit order: each process applies the ones after the last it
-- saw before it searches, so a deleted photo is never matched once its delete has answered.
create table collection_changes (
    seq integer primary key autoincrement,
    op text not null,          -- add | remove_image | remove_person | remove_collection
    collection_id text not null,
    person_id text,
    image_id text,
    time_created real not null
);
