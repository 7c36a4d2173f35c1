package workflows

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"connectrpc.com/connect"
	tlog "go.temporal.io/sdk/log"

	"github.com/kinshiphq/kinship/workflows/internal/activityerr"
)

// The SDK's "Activity error." about an expected retry is a warning; any
// other activity error stays an error.
func TestExpectedRetriesAreLoggedAsWarnings(t *testing.T) {
	var out bytes.Buffer
	logger := tlog.NewStructuredLogger(slog.New(expectedRetries{slog.NewJSONHandler(&out, nil)}))
	notSeen := activityerr.WaitFor("send message welcome: the communications service has not seen the member yet",
		connect.NewError(connect.CodeNotFound, errors.New("no such member")), 2)
	logger.Error("Activity error.", "ActivityType", "SendTemplate", "Attempt", 2, "Error", notSeen)
	logger.Error("Activity error.", "ActivityType", "SendTemplate", "Attempt", 2, "Error", errors.New("mail server down"))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"level":"WARN"`) || !strings.Contains(lines[0], "has not seen the member yet") ||
		!strings.Contains(lines[1], `"level":"ERROR"`) {
		t.Errorf("logged:\n%s\nwant the expected retry at WARN and the other at ERROR", out.String())
	}
	if !activityerr.Is(notSeen, activityerr.ExpectedRetry) || connect.CodeOf(errors.Unwrap(notSeen)) != connect.CodeNotFound {
		t.Errorf("WaitFor lost its type or its cause: %v", notSeen)
	}
}
