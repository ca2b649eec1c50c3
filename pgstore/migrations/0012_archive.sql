-- Suggestions (lms.ArchiveStore, issue 22): each link's last archive
-- look-up, found or not. snapshot is '' when the service had no copy;
-- archived_at and looked are Unix nanoseconds (0: none).
CREATE TABLE link_archive (
	url         text COLLATE "C" PRIMARY KEY REFERENCES links (url) ON DELETE CASCADE,
	snapshot    text   NOT NULL,
	archived_at bigint NOT NULL,
	looked      bigint NOT NULL
);
