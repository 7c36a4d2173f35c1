package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/kinshiphq/kinship/internal/tracestore"
)

func TestTraceCommandPrintsAWaterfallOrSaysWhyNot(t *testing.T) {
	store := tracestore.New(tracestore.Config{})
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(store)).Tracer("t")
	ctx, api := tracer.Start(context.Background(), "kinship.members.v1.MembersService/JoinCommunity")
	_, publish := tracer.Start(ctx, "publish demo.members.v1")
	publish.SetAttributes(attribute.String("messaging.destination.name", "demo.members.v1"))
	publish.SetStatus(codes.Error, "broker down")
	publish.End()
	api.End()
	id := api.SpanContext().TraceID().String()
	srv := httptest.NewServer(store.Handler(tracestore.ViewerConfig{}))
	defer srv.Close()
	env := func(name string) string {
		if name == "KINSHIP_TRACES_URL" {
			return srv.URL
		}
		return ""
	}
	tests := []struct {
		name    string
		args    []string
		want    []string
		wantErr string
	}{
		{"a trace", []string{id}, []string{"trace " + id, "  kinship.members.v1.MembersService/JoinCommunity", "!   publish demo.members.v1", "status: broker down"}, ""},
		{"a trace with attributes", []string{"-attributes", id}, []string{"messaging.destination.name=demo.members.v1"}, ""},
		{"the recent traces", nil, []string{id, "JoinCommunity"}, ""},
		{"a filter nothing matches", []string{"-service", "kinship-nobody"}, []string{"no trace matches"}, ""},
		{"an unknown trace", []string{"0123456789abcdef0123456789abcdef"}, nil, "no trace 0123456789abcdef0123456789abcdef here"},
		{"not a trace id", []string{"ada@example.org"}, nil, "is not a trace id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := runTrace(context.Background(), tt.args, env, &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
