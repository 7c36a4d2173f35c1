package domain

// InDoubt is what happens to an e-mail found in doubt: a delivery began
// handing it to the mail server (it was marked sending) and the process
// stopped before recording the server's reply, so whether the server
// accepted it is not known.
type InDoubt int

// In-doubt policies.
const (
	// InDoubtResend sends it again with the same Message-ID, so that a
	// receiving system which got the first copy can collapse the two.
	InDoubtResend InDoubt = iota + 1
	// InDoubtGiveUp does not send it again: it ends with status in_doubt.
	InDoubtGiveUp
)

// ReasonInDoubt is the recorded reason of a message not resent in doubt.
const ReasonInDoubt = "in doubt: the process stopped after handing the e-mail to the mail server and before recording its reply; not resent"

// InDoubtPolicy decides what becomes of message m found in doubt.
// Transactional mail (welcome, confirmation of an RSVP or of an address)
// matters to its one reader and is resent while attempts remain; bulk mail
// (announcements, digests) is not worth a second copy in anyone's inbox
// and is given up.
func InDoubtPolicy(m Message) InDoubt {
	switch {
	case m.Kind != KindTransactional && m.Kind != KindConfirmation:
		return InDoubtGiveUp
	case m.SendingAttempt >= MaxAttempts:
		return InDoubtGiveUp
	}
	return InDoubtResend
}
