package mistralapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// apiError is an error with the HTTP status Mistral answers it with and
// Mistral's text: clients (mistralclient, tempest, Heat) read faultstring
// and match substrings of it.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

// Mistral's exceptions by HTTP status: InputException, WorkflowException
// and InvalidModelException are 400, NotAllowedException 403,
// DBEntityNotFoundError 404, DBDuplicateEntryError 409.
func badRequest(format string, args ...any) error {
	return errorf(http.StatusBadRequest, format, args...)
}
func notFound(format string, args ...any) error { return errorf(http.StatusNotFound, format, args...) }
func conflict(format string, args ...any) error { return errorf(http.StatusConflict, format, args...) }

// fault is Mistral's error body (wsme's).
type fault struct {
	FaultCode   string  `json:"faultcode"`
	FaultString string  `json:"faultstring"`
	DebugInfo   *string `json:"debuginfo"`
}

// writeError answers err: its status and text when it is an apiError, 500
// with faultcode Server otherwise.
func writeError(w http.ResponseWriter, err error) {
	status, msg := http.StatusInternalServerError, err.Error()
	var ae *apiError
	if errors.As(err, &ae) {
		status, msg = ae.status, ae.msg
	}
	code := "Client"
	if status >= 500 {
		code = "Server"
	}
	writeJSON(w, status, fault{FaultCode: code, FaultString: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(stripSort(v))
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"faultcode": "Server", "faultstring": "encode the response", "debuginfo": null}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// stripSort drops the hidden sort values (sortPrefix) of a resource, or of
// the resources of a body, before they are written.
func stripSort(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	for k, x := range m {
		if strings.HasPrefix(k, sortPrefix) {
			delete(m, k)
		}
		if list, ok := x.([]resource); ok {
			for _, r := range list {
				stripSort(r)
			}
		}
	}
	return v
}
