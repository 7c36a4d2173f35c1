package ingest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/kinshiphq/kinship/services/members/domain"
)

// Activity types of GitHub deliveries.
const (
	TypeOpenedIssue       = "opened_issue"
	TypeOpenedPullRequest = "opened_pull_request"
	TypeMergedPullRequest = "merged_pull_request"
	TypeReviewed          = "reviewed_pull_request"
	TypeCommented         = "commented"
	TypePosted            = domain.ActivityPosted
)

// githubUser is the part of a GitHub user a delivery is read for.
type githubUser struct {
	Login string `json:"login"`
	Type  string `json:"type"`
}

// githubObject is the part of an issue, pull request, comment, review or
// discussion a delivery is read for.
type githubObject struct {
	ID          int64       `json:"id"`
	Number      int64       `json:"number"`
	HTMLURL     string      `json:"html_url"`
	User        *githubUser `json:"user"`
	CreatedAt   time.Time   `json:"created_at"`
	SubmittedAt time.Time   `json:"submitted_at"`
	MergedAt    *time.Time  `json:"merged_at"`
	Merged      bool        `json:"merged"`
}

type githubPayload struct {
	Action      string        `json:"action"`
	Issue       *githubObject `json:"issue"`
	PullRequest *githubObject `json:"pull_request"`
	Comment     *githubObject `json:"comment"`
	Review      *githubObject `json:"review"`
	Discussion  *githubObject `json:"discussion"`
	Repository  *struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	Sender *githubUser `json:"sender"`
}

// parseGitHub reads issues opened, pull requests opened and merged,
// reviews submitted, and comments created on issues, pull requests and
// discussions, and discussions started. Everything else — other events,
// other actions (edits, labels, closes), bots' activity — is ignored
// with the reason.
func parseGitHub(event string, body []byte, now time.Time) Parsed {
	var p githubPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return ignored(event, "the payload is not a GitHub event: "+jsonProblem(err))
	}
	var obj *githubObject
	var typ, key string
	at := func(o *githubObject) time.Time { return o.CreatedAt }
	switch {
	case event == "ping":
		return ignored(event, "ping: GitHub's test delivery holds no activity")
	case event == "issues" && p.Action == "opened":
		obj, typ, key = p.Issue, TypeOpenedIssue, "issue"
	case event == "pull_request" && p.Action == "opened":
		obj, typ, key = p.PullRequest, TypeOpenedPullRequest, "pull_request"
	case event == "pull_request" && p.Action == "closed" && p.PullRequest != nil && p.PullRequest.Merged:
		obj, typ, key = p.PullRequest, TypeMergedPullRequest, "pull_request_merged"
		at = func(o *githubObject) time.Time {
			if o.MergedAt != nil {
				return *o.MergedAt
			}
			return time.Time{}
		}
	case event == "pull_request_review" && p.Action == "submitted":
		obj, typ, key = p.Review, TypeReviewed, "review"
		at = func(o *githubObject) time.Time { return o.SubmittedAt }
	case event == "issue_comment" && p.Action == "created":
		obj, typ, key = p.Comment, TypeCommented, "issue_comment"
	case event == "pull_request_review_comment" && p.Action == "created":
		obj, typ, key = p.Comment, TypeCommented, "review_comment"
	case event == "discussion_comment" && p.Action == "created":
		obj, typ, key = p.Comment, TypeCommented, "discussion_comment"
	case event == "discussion" && p.Action == "created":
		obj, typ, key = p.Discussion, TypePosted, "discussion"
	case event == "":
		return ignored(event, "the delivery does not name its GitHub event (X-GitHub-Event)")
	default:
		action := ""
		if p.Action != "" {
			action = " (" + p.Action + ")"
		}
		return ignored(event, fmt.Sprintf("github event %q%s is not an activity", event, action))
	}
	if obj == nil || obj.ID == 0 || obj.User == nil || obj.User.Login == "" {
		return ignored(event, fmt.Sprintf("the %s payload lacks the object, its id or its author", event))
	}
	if obj.User.Type == "Bot" || (p.Sender != nil && p.Sender.Type == "Bot" && p.Sender.Login == obj.User.Login) {
		return ignored(event, "the activity is a bot's")
	}
	when := at(obj)
	if reason := fresh(when, now); reason != "" {
		return ignored(event, reason)
	}
	props := map[string]string{}
	if obj.HTMLURL != "" && len(obj.HTMLURL) <= domain.MaxPropertyLength {
		props["url"] = obj.HTMLURL
	}
	if p.Repository != nil && p.Repository.FullName != "" && len(p.Repository.FullName) <= domain.MaxPropertyLength {
		props["repository"] = p.Repository.FullName
	}
	if obj.Number > 0 {
		props["number"] = strconv.FormatInt(obj.Number, 10)
	}
	return Parsed{Event: event, Activities: []Activity{{
		Key: key + "/" + strconv.FormatInt(obj.ID, 10), Type: typ, OccurredAt: when.UTC(),
		Who: domain.Identity{Handle: obj.User.Login}, Properties: props,
	}}}
}

// jsonProblem says what is wrong with a payload without echoing it.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case asError(err, &syntax):
		return fmt.Sprintf("invalid JSON at byte %d", syntax.Offset)
	case asError(err, &typ):
		return fmt.Sprintf("field %q has the wrong type", typ.Field)
	}
	return "invalid JSON"
}
