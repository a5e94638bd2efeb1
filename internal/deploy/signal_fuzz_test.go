package deploy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	th "github.com/gophercloud/gophercloud/v2/testhelper"
	"github.com/gophercloud/gophercloud/v2/testhelper/client"

	"github.com/fernetflow/fernetflow/internal/deploy/deploytest"
)

// FuzzSignalBody: whatever a node sends, the receiver answers 200 (a JSON
// object, recorded: once, the deployment takes one signal), 409 (a JSON
// object after that) or 400, and never panics.
func FuzzSignalBody(f *testing.F) {
	fs := th.SetupHTTP()
	defer fs.Teardown()
	h := deploytest.New(fs)
	h.AddServer("ctrl-0", "srv-0")
	c := client.ServiceClient(fs)
	rcv, err := NewReceiver(c, ReceiverOptions{})
	if err != nil {
		f.Fatal(err)
	}
	defer rcv.Close()
	_, err = Push(context.Background(), c, []Target{{Server: Server{Name: "ctrl-0", ID: "srv-0"}}}, PushOptions{Config: installConfig, Receiver: rcv})
	if err != nil {
		f.Fatal(err)
	}
	url := inputValue(h.Metadata("srv-0")[0], "deploy_signal_id").(string)
	path := url[strings.Index(url, "/signal/"):]
	for _, s := range []string{`{"deploy_status_code":0}`, `{"deploy_status_code":"1","x":[1,{"y":null}]}`, `null`, `[]`, `{`, ``, `{"deploy_status_code":1e400}`} {
		f.Add(s)
	}
	var accepted atomic.Int32
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPut, path, strings.NewReader(body))
		w := httptest.NewRecorder()
		rcv.srv.Handler.ServeHTTP(w, req)
		switch w.Code {
		case 200:
			if accepted.Add(1) > 1 {
				t.Fatalf("body %q: a second signal accepted", body)
			}
		case 400, 409:
		default:
			t.Fatalf("body %q: HTTP %d", body, w.Code)
		}
	})
}
