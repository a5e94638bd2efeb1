package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/fernetflow/fernetflow/workflow"
)

// Summary is what a status view needs of an execution: its id, workflow
// and state, read without decoding the rest (List decodes everything: on
// a store of a thousand rotations of a large fleet, a metrics scrape would
// read tens of megabytes of JSON).
type Summary struct {
	ID           string         `json:"id"`
	WorkflowName string         `json:"workflow_name"`
	State        workflow.State `json:"state"`
}

// Summaries returns a summary of every execution, by id. Get reads the
// whole execution of one.
func (s *Store) Summaries() ([]Summary, error) {
	var out []Summary
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketExecutions).ForEach(func(k, v []byte) error {
			sum, err := summarize(v)
			if err != nil {
				return fmt.Errorf("store: execution %s: %w", k, err)
			}
			out = append(out, sum)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

// summarize reads a recorded execution's id, workflow name and state,
// which Record writes first (workflow.Execution's first fields), without
// scanning the rest; a record in another order is decoded whole.
func summarize(v []byte) (Summary, error) {
	var sum Summary
	dec := json.NewDecoder(bytes.NewReader(v))
	if tok, err := dec.Token(); err == nil && tok == json.Delim('{') {
		fields := map[string]*string{"id": &sum.ID, "workflow_name": &sum.WorkflowName, "state": (*string)(&sum.State)}
		for range 3 {
			tok, err := dec.Token()
			key, _ := tok.(string)
			dst := fields[key]
			if err != nil || dst == nil || dec.Decode(dst) != nil {
				break
			}
			delete(fields, key)
		}
		if len(fields) == 0 {
			return sum, nil
		}
	}
	sum = Summary{}
	err := json.Unmarshal(v, &sum)
	return sum, err
}
