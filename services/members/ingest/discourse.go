package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kinshiphq/kinship/services/members/domain"
)

// discoursePost is the part of a Discourse post a post_created delivery
// is read for.
type discoursePost struct {
	ID             int64      `json:"id"`
	Username       string     `json:"username"`
	UserID         int64      `json:"user_id"`
	CreatedAt      time.Time  `json:"created_at"`
	PostNumber     int64      `json:"post_number"`
	PostType       int        `json:"post_type"`
	TopicID        int64      `json:"topic_id"`
	CategoryID     *int64     `json:"category_id"`
	TopicArchetype string     `json:"topic_archetype"`
	DeletedAt      *time.Time `json:"deleted_at"`
	Hidden         bool       `json:"hidden"`
	UserDeleted    bool       `json:"user_deleted"`
	ReplyToPostNum *int64     `json:"reply_to_post_number"`
}

// Discourse post types: only regular posts are members' activity
// (moderator actions, small actions and whispers are not).
const discourseRegularPost = 1

// parseDiscourse reads post_created deliveries: a member's post in a
// public topic. Private messages, system posts (user ids below 1),
// moderator and small actions, whispers, hidden and deleted posts are
// ignored, as is every other event.
func parseDiscourse(event string, body []byte, now time.Time) Parsed {
	if event != "post_created" {
		if event == "" {
			return ignored(event, "the delivery does not name its Discourse event (X-Discourse-Event)")
		}
		return ignored(event, fmt.Sprintf("discourse event %q is not an activity", event))
	}
	var p struct {
		Post *discoursePost `json:"post"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return ignored(event, "the payload is not a Discourse post: "+jsonProblem(err))
	}
	post := p.Post
	switch {
	case post == nil || post.ID == 0 || post.Username == "":
		return ignored(event, "the payload lacks the post, its id or its author")
	case post.TopicArchetype == "private_message":
		return ignored(event, "the post is a private message")
	case post.UserID < 1:
		return ignored(event, "the post is the system's")
	case post.PostType != discourseRegularPost:
		return ignored(event, "the post is not a regular post (a moderator or small action, or a whisper)")
	case post.DeletedAt != nil || post.Hidden || post.UserDeleted:
		return ignored(event, "the post is hidden or deleted")
	}
	if reason := fresh(post.CreatedAt, now); reason != "" {
		return ignored(event, reason)
	}
	props := map[string]string{"topic_id": strconv.FormatInt(post.TopicID, 10), "post_number": strconv.FormatInt(post.PostNumber, 10)}
	if post.CategoryID != nil {
		props["category_id"] = strconv.FormatInt(*post.CategoryID, 10)
	}
	if post.PostNumber == 1 {
		props["first_post"] = "true"
	}
	return Parsed{Event: event, Activities: []Activity{{
		Key: "post/" + strconv.FormatInt(post.ID, 10), Type: TypePosted, OccurredAt: post.CreatedAt.UTC(),
		Who: domain.Identity{Handle: post.Username}, Properties: props,
	}}}
}

func asError[T error](err error, target *T) bool { return errors.As(err, target) }
