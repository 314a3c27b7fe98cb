-- Media previews (issue 7): a JPEG thumbnail made at upload (`preview_url`, `thumb_url`) and, for
-- zip shot sets, an mp4 assembled from the shots (`video_url`). Both are stored files under
-- random names beside the original; NULL when none was made (older rows, best shots, or a
-- preview/video that could not be made: the upload is kept without it).

alter table media add column preview_file text;
alter table media add column video_file text;

-- Looked up by name when served (`GET /static/{file}`) and by the file sweeper.
create index media_preview_file on media(preview_file);
create index media_video_file on media(video_file);
