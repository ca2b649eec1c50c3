-- Schema 7 of pgstore: what kind of "alive but wrong" page a link's last
-- check found (lms.Result.Kind: soft_404, parked, home_redirect,
-- default_page, suspended); '' when none.
ALTER TABLE links ADD COLUMN kind text NOT NULL DEFAULT '';
