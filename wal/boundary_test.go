package wal

// Test shorthands for the boundary's vocabulary (boundary.go).

// fence is s's claim fence, as the engine gets it from Claims.
func fence(s *Store) Fence { return held{s} }

// at is the cursor a queue entry of event id leaves.
func at(id ID) Cursor { return cursorAt(id) }

// eventsOf lists the events of queue entries.
func eventsOf(q []Queued) []ID {
	out := make([]ID, len(q))
	for i, e := range q {
		out[i] = e.Event
	}
	return out
}
