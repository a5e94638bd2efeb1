package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fernetflow/fernetflow/actions"
	"github.com/fernetflow/fernetflow/internal/deploy"
	"github.com/fernetflow/fernetflow/internal/mistralapi"
)

// actionServerFlags are serve's action server options.
type actionServerFlags struct {
	listen           string
	tlsCert, tlsKey  string
	auth             string
	keystoneURL      string
	projects, roles  []string
	sharedSecretFile string
	actionTimeout    time.Duration
	tokenCacheTTL    time.Duration
	fleet            fleetFlags
	// shared are fleet flags serve already defines (--state-dir): their
	// value is copied from serve's flag when the server starts.
	shared []sharedFlag
}

// sharedFlag is a fleet flag (fleet) that serve defines itself (own).
type sharedFlag struct{ own, fleet *pflag.Flag }

const sharedSecretAuthName = "shared-secret-for-tests"

// serveActionFlags adds the HTTP action server to cmd (fernetflow serve):
// it registers the server's flags and wraps cmd's RunE so that, when
// --listen is given, the server runs beside serve's own loop and shuts down
// gracefully (in-flight actions finish, up to 30 s) when the loop returns.
// Call it after cmd's own flags are registered: a fleet flag cmd already
// has (--state-dir) is shared, not registered twice.
func (a *app) serveActionFlags(cmd *cobra.Command) {
	f := &actionServerFlags{}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "", "serve the Go actions over HTTP for OpenStack Mistral on this address (such as 127.0.0.1:8990); empty: no action server")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "action server: TLS certificate (PEM, with its chain); with --tls-key, the server speaks HTTPS only")
	fl.StringVar(&f.tlsKey, "tls-key", "", "action server: TLS private key (PEM)")
	fl.StringVar(&f.auth, "auth", "keystone", "action server and Mistral API: how callers authenticate: keystone (X-Auth-Token validated by Keystone), "+noAuthName+" (NO AUTHENTICATION: anyone who can connect runs any workflow and action as one admin project, and cron triggers fire with no Keystone trust, as nobody; loopback --listen only, for a single-user host), or "+sharedSecretAuthName+" (FOR TESTS ONLY: fixed secrets from --shared-secret-file, never in production; action server only)")
	fl.StringVar(&f.keystoneURL, "keystone-url", os.Getenv("OS_AUTH_URL"), "action server: Keystone's endpoint that validates callers' tokens (default: OS_AUTH_URL)")
	fl.StringSliceVar(&f.projects, "allowed-project", nil, "action server: project whose tokens may run actions: a project ID (any domain), DOMAIN/NAME (the project NAME in the domain of that name or id), or a bare NAME, which means the project NAME in the Default domain (id \"default\") only, never a project of that name in another domain; repeat or comma-separate; required")
	fl.StringSliceVar(&f.roles, "allowed-role", []string{"admin"}, "action server: roles of which a caller needs one (keystone auth)")
	fl.StringVar(&f.sharedSecretFile, "shared-secret-file", "", "action server, --auth "+sharedSecretAuthName+" only: file of lines \"PROJECT SECRET\"")
	fl.DurationVar(&f.actionTimeout, "action-timeout", 15*time.Minute, "action server: time allowed for one action")
	fl.DurationVar(&f.tokenCacheTTL, "token-cache-ttl", 30*time.Second, "action server, keystone auth: how long a token Keystone validated is trusted without asking again; a token revoked in Keystone is still honoured for up to this long; 0: no cache, every request asks Keystone")

	scratch := &cobra.Command{Use: "scratch"}
	f.fleet.register(a, scratch)
	scratch.Flags().VisitAll(func(sf *pflag.Flag) {
		if own := fl.Lookup(sf.Name); own != nil {
			f.shared = append(f.shared, sharedFlag{own, sf})
			return
		}
		fl.AddFlag(sf)
	})
	_ = fl.MarkHidden("no-store") // serve's cron executions are always recorded

	cmd.Long += `

With --listen, serve also runs the HTTP action server that OpenStack Mistral's
ad-hoc actions (fernetflow mistral register) call: POST /v1/actions/NAME runs
one of fernetflow's actions on the fleet chosen by --target (--nodes,
--state-dir, or Heat's --os-cloud, --stack, --role). Every call is
authenticated: --auth keystone validates the caller's X-Auth-Token with
Keystone and allows tokens scoped to an --allowed-project with one of the
--allowed-role roles (401 otherwise, 403 for another project or role). A
project is matched by id, or by domain and name: --allowed-project admin is
the project admin of the Default domain, --allowed-project DOMAIN/NAME one
of another domain; a project called admin in another domain is refused.
Keystone's answer is cached for --token-cache-ttl (30 s): a token revoked
meanwhile is honoured until then; --token-cache-ttl 0 asks Keystone every
time.
--auth ` + sharedSecretAuthName + ` is for tests only. With --tls-cert and
--tls-key it speaks HTTPS. One JSON log line per request on stderr. On
SIGINT or SIGTERM it stops taking requests and lets running actions, and
the API's running executions, end (30 s at most, then they are cancelled
and end in ERROR with the reason).`
	cmd.Example += `
  # The action server for real Mistral, behind Keystone, over TLS
  fernetflow serve --listen 127.0.0.1:8990 --tls-cert /etc/fernetflow/tls.crt --tls-key /etc/fernetflow/tls.key \
      --auth keystone --keystone-url https://keystone.example:5000 --allowed-project admin \
      --target heat --os-cloud undercloud --stack overcloud --role Controller --state-dir /var/lib/fernetflow`
	a.serveFleet = func() (*fleetFlags, bool) {
		if err := f.syncShared(); err != nil {
			return nil, false
		}
		given := cmd.Flags().Changed("target") || cmd.Flags().Changed("nodes") || cmd.Flags().Changed("stack")
		return &f.fleet, given
	}
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if f.listen == "" {
			for _, n := range []string{"tls-cert", "tls-key", "auth", "keystone-url", "allowed-project", "allowed-role", "shared-secret-file", "action-timeout", "token-cache-ttl"} {
				if cmd.Flags().Changed(n) {
					return usagef("--%s is for the action server: give --listen too", n)
				}
			}
			// A fleet (--target, --nodes, ...) lets cron triggers run
			// fernetflow's own workflows, rotate_fernet_keys among them.
			if cmd.Flags().Changed("target") || cmd.Flags().Changed("nodes") {
				if err := f.syncShared(); err != nil {
					return err
				}
				h, err := f.fleet.host(a)
				if err != nil {
					return err
				}
				defer h.Target.Close()
				if h.OnDeliver, err = a.serveDeliveries(f.fleet.stateDir); err != nil {
					return err
				}
				a.cronRegistry, a.cronUndercloud = actions.Engine(actions.Host{Fleet: h, Heat: heatHostOf(h)}), h.Undercloud
			}
			return run(cmd, args)
		}
		ctx, cancel := context.WithCancel(cmd.Context())
		defer cancel()
		srv, err := a.startActionServer(ctx, cmd, f, cancel)
		if err != nil {
			return err
		}
		cmd.SetContext(ctx)
		runErr := run(cmd, args)
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer scancel()
		return errors.Join(runErr, srv.stop(sctx))
	}
}

// syncShared copies serve's own values of the flags the fleet shares
// (--state-dir) into the fleet's.
func (f *actionServerFlags) syncShared() error {
	for _, s := range f.shared {
		if s.own.Value.Type() == "string" && s.fleet.Value.Type() == "string" {
			if err := s.fleet.Value.Set(s.own.Value.String()); err != nil {
				return usagef("--%s: %v", s.own.Name, err)
			}
		}
	}
	return nil
}

type runningServer struct {
	http      *http.Server
	api       *mistralapi.Server // nil without the Mistral API
	done      chan error
	closeHost func() error
}

// stop shuts the server down gracefully (running actions end, until ctx
// does) and returns why it ended, if not because it was stopped.
func (s *runningServer) stop(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if err != nil {
		err = fmt.Errorf("action server: actions still running when shutting down: %w", errors.Join(err, s.http.Close()))
	}
	if s.api != nil {
		// The API's executions end on their own until ctx does (a restart
		// does not cut a rotation off); Close cancels what is left, which
		// ends in ERROR with the reason.
		_ = s.api.Drain(ctx)
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = errors.Join(err, s.api.Close(cctx))
	}
	if s.closeHost != nil {
		err = errors.Join(err, s.closeHost())
	}
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("action server: %w", serr)
	}
	return err
}

func (a *app) startActionServer(ctx context.Context, cmd *cobra.Command, f *actionServerFlags, failed context.CancelFunc) (*runningServer, error) {
	if err := f.syncShared(); err != nil {
		return nil, err
	}
	auth, err := f.authenticator()
	if err != nil {
		return nil, err
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return nil, usagef("--tls-cert and --tls-key go together")
	}
	served := actions.Host{}
	closeHost := func() error { return nil }
	if cmd.Flags().Changed("target") || cmd.Flags().Changed("nodes") || cmd.Flags().Changed("stack") { // else: the fleet actions refuse to run
		h, err := f.fleet.host(a)
		if err != nil {
			return nil, err
		}
		if h.OnDeliver, err = a.serveDeliveries(f.fleet.stateDir); err != nil {
			return nil, err
		}
		served = actions.Host{Fleet: h, Heat: heatHostOf(h)} // heat.* share the target's cloud and signal receiver
		closeHost = h.Target.Close
	}
	if served.Heat != nil && sameListenAddress(f.listen, served.Heat.SignalListen) {
		return nil, usagef("--listen and --signal-listen are both %s: the action server and the signal receiver need an address each (such as --listen %s and --signal-listen with the next port)", f.listen, f.listen)
	}
	reg := actions.Served(served)
	a.cronRegistry = actions.Engine(served) // cron triggers use the same fleet and cloud
	if served.Fleet != nil {
		a.cronUndercloud = served.Fleet.Undercloud
	}
	reqLog := slog.New(slog.NewJSONHandler(a.stderr, nil)).With("component", "action-server")
	handler, err := actions.NewServer(reg, actions.ServerOptions{Auth: auth, Timeout: f.actionTimeout, Log: reqLog})
	if err != nil {
		return nil, err
	}
	var api *mistralapi.Server
	mux := http.NewServeMux()
	mux.Handle("/v1/", a.instrument("action-server", handler))
	if f.auth != sharedSecretAuthName {
		// Mistral's v2 API (/v2, and its version document at /).
		if api, err = a.mistralAPI(ctx, cmd, f, a.cronRegistry, slog.New(slog.NewJSONHandler(a.stderr, nil)).With("component", "mistral-api")); err != nil {
			return nil, err
		}
		mux.Handle("/", a.instrument("mistral-api", api))
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      f.actionTimeout + time.Minute,
		IdleTimeout:       2 * time.Minute,
		// Requests outlive serve's context: on SIGINT, stop lets running
		// actions end (Shutdown), and only then cuts them off (Close).
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:    slog.NewLogLogger(reqLog.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return nil, usagef("--tls-cert/--tls-key: %v", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		scheme = "https"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", f.listen)
	if err != nil {
		return nil, fmt.Errorf("action server: %w", err)
	}
	rs := &runningServer{http: srv, done: make(chan error, 1), api: api}
	rs.closeHost = closeHost // stops Heat's signal receiver
	go func() {
		var err error
		if srv.TLSConfig != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			failed() // end serve: its action server is gone
		}
		rs.done <- err
	}()
	fmt.Fprintf(a.stderr, "fernetflow serve: %d actions on %s://%s/v1/actions (auth %s, projects %s)\n",
		len(reg.Names()), scheme, ln.Addr(), f.auth, strings.Join(f.projects, ","))
	if api != nil {
		fmt.Fprintf(a.stderr, "fernetflow serve: Mistral v2 API on %s://%s/v2 (auth %s)\n", scheme, ln.Addr(), f.auth)
	}
	return rs, nil
}

func (f *actionServerFlags) authenticator() (actions.Authenticator, error) {
	if f.auth == noAuthName {
		if !loopback(f.listen) {
			return nil, usagef("--auth %s turns authentication off: --listen must be a loopback address (such as 127.0.0.1:8989), not %s", noAuthName, f.listen)
		}
		return noAuthActions{}, nil
	}
	if len(f.projects) == 0 {
		return nil, usagef("the action server needs --allowed-project: the project (ID, DOMAIN/NAME, or NAME in the Default domain) whose callers may run actions")
	}
	switch f.auth {
	case "keystone":
		if f.keystoneURL == "" {
			return nil, usagef("--auth keystone needs --keystone-url (or OS_AUTH_URL)")
		}
		if f.sharedSecretFile != "" {
			return nil, usagef("--shared-secret-file is for --auth %s only", sharedSecretAuthName)
		}
		if f.tokenCacheTTL < 0 {
			return nil, usagef("--token-cache-ttl %s: want 0 (no cache) or more", f.tokenCacheTTL)
		}
		for _, p := range f.projects {
			if d, n, ok := strings.Cut(p, "/"); ok && (d == "" || n == "") {
				return nil, usagef("--allowed-project %q: want ID, NAME or DOMAIN/NAME", p)
			}
		}
		return &actions.KeystoneAuth{URL: f.keystoneURL, Projects: f.projects, Roles: f.roles, CacheTTL: f.tokenCacheTTL}, nil
	case sharedSecretAuthName:
		if f.sharedSecretFile == "" {
			return nil, usagef("--auth %s needs --shared-secret-file", sharedSecretAuthName)
		}
		secrets, err := readSharedSecrets(f.sharedSecretFile)
		if err != nil {
			return nil, err
		}
		return &actions.SharedSecretAuth{Secrets: secrets, Projects: f.projects}, nil
	}
	return nil, usagef("--auth %q: use keystone, %s (single-user host), or %s in tests", f.auth, noAuthName, sharedSecretAuthName)
}

// readSharedSecrets reads lines "PROJECT SECRET" (# comments, blank lines).
func readSharedSecrets(path string) (map[string]string, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("shared secrets: %w", err)
	}
	defer file.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(file)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 || len(fields[1]) < 16 {
			return nil, fmt.Errorf("shared secrets: %s:%d: want \"PROJECT SECRET\" with a secret of 16 characters or more", path, n)
		}
		out[fields[1]] = fields[0]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("shared secrets: %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("shared secrets: %s holds none", path)
	}
	return out, nil
}

// sameListenAddress reports whether two listen addresses name the same
// fixed port on the same (or a wildcard) host, so that the second listener
// would fail with "address already in use".
func sameListenAddress(a, b string) bool {
	ah, ap, err1 := net.SplitHostPort(a)
	bh, bp, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || ap != bp || ap == "0" {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ah == bh || wild(ah) || wild(bh)
}

// heatHostOf is the Heat target's host (its cloud and signal receiver), nil
// for another target.
func heatHostOf(h *actions.FleetHost) *deploy.Host {
	if ht, ok := h.Target.(*deploy.FleetTarget); ok {
		return ht.Host
	}
	return nil
}

// instrument times h's requests under server when serve has
// --metrics-listen (fernetflow_http_request_duration_seconds).
func (a *app) instrument(server string, h http.Handler) http.Handler {
	if a.metrics == nil {
		return h
	}
	return a.metrics.Instrument(server, h)
}
