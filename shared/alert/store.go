package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/certdrop/certdrop/shared/store"
)

// Load reads the state at StateKey: an empty state when there is none
// yet. A state that cannot be read or parsed is returned empty with the
// error: the caller alerts as if nothing had been told (better twice
// than never) and says why.
func Load(ctx context.Context, st store.Store) (State, error) {
	obj, err := st.Get(ctx, StateKey)
	if errors.Is(err, store.ErrNotFound) {
		return State{Version: 1}, nil
	}
	if err != nil {
		return State{Version: 1}, fmt.Errorf("reading the alert state %s: %w", StateKey, err)
	}
	var s State
	if err := json.Unmarshal(obj.Data, &s); err != nil {
		return State{Version: 1}, fmt.Errorf("the alert state %s is not valid JSON: %w", StateKey, err)
	}
	return s, nil
}

// Save writes the state at StateKey (at most MaxEntries entries, a few
// hundred kilobytes at most).
func Save(ctx context.Context, st store.Store, s State) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := st.Put(ctx, StateKey, data, "application/json"); err != nil {
		return fmt.Errorf("writing the alert state %s: %w", StateKey, err)
	}
	return nil
}
