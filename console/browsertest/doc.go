// Package browsertest drives the console in Debian's headless Chromium
// through the whole dev stack (internal/devstack): an organiser signs in,
// imports members, builds a segment, starts its onboarding, creates an
// event, a member answers and is checked in at the door, an announcement
// goes out, and the dashboard changes. axe-core checks every page it
// visits, and the screenshots docs/console.md shows are taken here.
//
// Chromium missing: the tests skip with a notice, or fail when
// KINSHIP_TEST_BROWSER=require (CI sets it).
package browsertest
