package rpc

import "testing"

func TestPageTokensAreBoundToTheirCommunity(t *testing.T) {
	tok := EncodePageToken("demo", "01a2-last")
	if last, err := DecodePageToken("demo", tok); err != nil || last != "01a2-last" {
		t.Errorf("DecodePageToken = %q, %v", last, err)
	}
	for name, bad := range map[string]string{"other community": EncodePageToken("other", "x"), "garbage": "%%%", "no id": EncodePageToken("demo", "")} {
		if _, err := DecodePageToken("demo", bad); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if last, err := DecodePageToken("demo", ""); err != nil || last != "" {
		t.Errorf("first page = %q, %v", last, err)
	}
}

func TestPageSize(t *testing.T) {
	for requested, want := range map[int32]int{0: DefaultPageSize, 1: 1, MaxPageSize: MaxPageSize} {
		if got, err := PageSize(requested); err != nil || got != want {
			t.Errorf("PageSize(%d) = %d, %v; want %d", requested, got, err, want)
		}
	}
	for _, bad := range []int32{-1, MaxPageSize + 1} {
		if _, err := PageSize(bad); err == nil {
			t.Errorf("PageSize(%d) accepted", bad)
		}
	}
}
