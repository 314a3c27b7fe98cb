-- Folders uploaded with an SDK session token (issue 20): the capture session (the token's jti)
-- that uploaded each, which may read that folder back and no other. Gone with the folder.

create table capture_folders (
    folder_id text primary key references folders(id) on delete cascade,
    session_id text not null
);
