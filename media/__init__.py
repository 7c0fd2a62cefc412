"""Product images: where the files live (storage), what an upload is (inspection), and
the renditions a job makes of it (renditions, placeholders). No database access here."""
