package store

// Issue 18 item 6: a website removed, or its alerting turned off, while an
// incident of it is open. The work is done by the trigger function
// sitestat_resolve_site_incidents (schema.sql), in the transaction of the
// DELETE or UPDATE, whoever runs it (RemoveSites, UpdateSite or SQL by hand):
// it resolves the open incidents and enqueues their recovered. What the
// notification loop needs to deliver that recovered after its down is the
// incident id on both rows, which notifications keeps (no foreign key).

import (
	"context"
	"fmt"
)

// checkRemovalTriggers returns a *DriftError when the triggers that resolve
// a removed (or alerting-off) website's incidents are missing or disabled,
// or when notifications.incident_id still has the foreign key of older
// releases, which blanks it when the site is removed.
func (db *DB) checkRemovalTriggers(ctx context.Context) error {
	var triggers int
	var fkey bool
	err := db.db.QueryRowContext(ctx, `
		SELECT (SELECT count(*)
		        FROM pg_catalog.pg_trigger t
		        JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
		        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		        JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
		        WHERE n.nspname = current_schema() AND c.relname = 'websites'
		          AND t.tgname IN ('websites_resolve_on_delete', 'websites_resolve_on_alerting_off')
		          AND t.tgenabled <> 'D' AND p.proname = 'sitestat_resolve_site_incidents'),
		       EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
		               JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
		               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		               WHERE n.nspname = current_schema() AND c.relname = 'notifications'
		                 AND k.contype = 'f' AND k.conname = 'notifications_incident_id_fkey')`).Scan(&triggers, &fkey)
	if err != nil {
		return fmt.Errorf("check schema: read triggers: %w", err)
	}
	if triggers != 2 {
		return &DriftError{Table: "websites",
			Problem: "triggers websites_resolve_on_delete and websites_resolve_on_alerting_off (function sitestat_resolve_site_incidents) are missing or disabled (a removed site's incident would never send its recovered)",
			Fix:     "sitestat migrate"}
	}
	if fkey {
		return &DriftError{Table: "notifications", Column: "incident_id",
			Problem: "still has foreign key notifications_incident_id_fkey (removing a site would let its recovered overtake its down)",
			Fix:     "sitestat migrate"}
	}
	return nil
}
