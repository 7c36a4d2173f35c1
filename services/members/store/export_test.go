package store

// JoinsWaiting is how many joins wait for a batch to take them, for tests
// that line joins up behind a running batch.
func (s *Store) JoinsWaiting() int {
	s.joins.mu.Lock()
	defer s.joins.mu.Unlock()
	return len(s.joins.waiting)
}

// JoinLeaders is how many join batches run at once on the store's engine.
func (s *Store) JoinLeaders() int { return joinLeaders }
