package devstack

// SeedPeople returns the names and e-mail addresses of the people the
// dev stack seeds in community, for tests that prove none is logged.
func SeedPeople(community string) (names, emails []string) {
	for _, p := range seedPeople(community) {
		names, emails = append(names, p.name), append(emails, p.email)
	}
	return names, emails
}
