package mistralapi

import (
	"encoding/json"
	"fmt"

	"github.com/fernetflow/fernetflow/workflow/store"
)

// loadAll decodes every record of col as a T; kind names the resource in
// an error about a record that does not decode.
func loadAll[T any](st *store.Store, col store.Collection, kind string) ([]*T, error) {
	recs, err := st.Records(col)
	if err != nil {
		return nil, err
	}
	out := make([]*T, 0, len(recs))
	for _, r := range recs {
		v := new(T)
		if err := json.Unmarshal(r.Data, v); err != nil {
			return nil, fmt.Errorf("mistralapi: %s %s: %w", kind, r.ID, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// putJSON stores v as record id of col.
func putJSON(st *store.Store, col store.Collection, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return st.PutRecord(col, id, b)
}
