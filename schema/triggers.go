package schema

// The triggers schema.sql creates, checked by name: the catalog comparison of
// Expected covers tables, columns, constraints and indexes only.
//
// Issue 18 item 6: a website removed, or its alerting turned off, while an
// incident of it is open. The work is done by the trigger function
// sitestat_resolve_site_incidents (schema.sql), in the transaction of the
// DELETE or UPDATE, whoever runs it (RemoveSites, UpdateSite or SQL by hand):
// it resolves the open incidents and enqueues their recovered. What the
// notification loop needs to deliver that recovered after its down is the
// incident id on both rows, which notifications keeps (no foreign key).

import (
	"context"
	"database/sql"
	"fmt"
)

// CheckSitesTrigger returns a *DriftError when the websites table lacks the
// trigger (or its function) that announces changes on store.SitesChannel:
// without it a change reaches the sites topic only at the next full
// reconcile.
func CheckSitesTrigger(ctx context.Context, db *sql.DB) error {
	var ok bool
	err := db.QueryRowContext(ctx, `
		SELECT EXISTS (
			SELECT 1
			FROM pg_catalog.pg_trigger t
			JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
			JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
			WHERE n.nspname = current_schema() AND c.relname = 'websites'
			  AND t.tgname = 'websites_notify' AND t.tgenabled <> 'D'
			  AND p.proname = 'sitestat_websites_notify')`).Scan(&ok)
	if err != nil {
		return fmt.Errorf("check sites trigger: %w", err)
	}
	if !ok {
		return &DriftError{Table: "websites", Problem: "trigger websites_notify (function sitestat_websites_notify) is missing or disabled", Fix: "sitestat migrate"}
	}
	return nil
}

// checkRemovalTriggers returns a *DriftError when the triggers that resolve
// a removed (or alerting-off) website's incidents are missing or disabled,
// or when notifications.incident_id still has the foreign key of older
// releases, which blanks it when the site is removed.
func checkRemovalTriggers(ctx context.Context, db *sql.DB) error {
	var triggers int
	var fkey bool
	err := db.QueryRowContext(ctx, `
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
