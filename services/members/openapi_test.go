package members_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// The members service serves the OpenAPI document of its own APIs at
// /openapi.json, without credentials: every RPC it serves has its path,
// and nothing another component serves is in it.
func TestServesItsOpenAPIDocument(t *testing.T) {
	s := start(t)
	res, err := http.Get(s.url + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc struct {
		OpenAPI string                     `json:"openapi"`
		Paths   map[string]json.RawMessage `json:"paths"`
	}
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil || res.StatusCode != http.StatusOK || doc.OpenAPI != "3.1.0" {
		t.Fatalf("GET /openapi.json = %d, %v, %s", res.StatusCode, err, doc.OpenAPI)
	}
	for _, svc := range membersServices() {
		for i := range svc.Methods().Len() {
			p := "/" + string(svc.FullName()) + "/" + string(svc.Methods().Get(i).Name())
			if _, ok := doc.Paths[p]; !ok {
				t.Errorf("the document lacks %s", p)
			}
		}
	}
	for p := range doc.Paths {
		if p == "/kinship.members.v1.SubjectAccessService/ExportSubjectData" || p == "/kinship.events.v1.EventsService/CreateEvent" {
			t.Errorf("the document holds %s, which another component serves", p)
		}
	}
}
