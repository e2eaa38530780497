package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/shipshape-dev/shipshape/internal/atomicfile"
	"github.com/shipshape-dev/shipshape/internal/cache/rediscache"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/redact"
	"github.com/shipshape-dev/shipshape/internal/report"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// Job states.
const (
	StatusQueued  = "queued"
	StatusRunning = "running"
	StatusDone    = "done"
	StatusFailed  = "failed"
)

// Progress is how far a running scan is.
type Progress struct {
	Layers       int   `json:"layers"`
	LayersDone   int64 `json:"layersDone"`
	LayersCached int64 `json:"layersCached"`
	BytesRead    int64 `json:"bytesRead"`
}

// JobStatus is the answer of GET /v1/scans/{id}.
type JobStatus struct {
	ID         string     `json:"id"`
	Image      string     `json:"image"`
	Status     string     `json:"status"`
	Error      string     `json:"error,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	Progress   Progress   `json:"progress"`
	// Grade and Practices summarise a finished scan.
	Grade     scorecard.Grade            `json:"grade,omitempty"`
	Practices map[scorecard.Practice]any `json:"practices,omitempty"`
}

// job is one scan request.
type job struct {
	id  string
	ref string
	// severities filters the report's findings (nil: all).
	severities []scorecard.Severity
	// artifact is what Harbor asked for, when Harbor asked.
	artifact *harborArtifact

	// shared: the job came from the Redis queue (its lease must be held
	// to record the result); remote: read from Redis for a request, its
	// report is there.
	shared, remote bool

	// keychain carries the request's registry credentials until the
	// scan starts; it is then dropped.
	keychain authn.Keychain

	layers, layersDone, layersCached, bytesRead atomic.Int64

	mu         sync.Mutex
	status     string
	err        string
	createdAt  time.Time
	startedAt  time.Time
	finishedAt time.Time
	// report is the finished report until it is on disk (onDisk), from
	// where it is read again when asked for: a long-running server does
	// not keep every report in memory.
	report    *scorecard.Report
	onDisk    bool
	grade     scorecard.Grade
	practices map[scorecard.Practice]any
}

// finish records a finished report and its summary.
func (j *job) finish(rep *scorecard.Report) {
	j.status, j.report, j.grade = StatusDone, rep, rep.Grade
	j.practices = map[scorecard.Practice]any{}
	for _, p := range rep.Practices {
		j.practices[p.ID] = p.Status
	}
}

func (j *job) snapshot() JobStatus {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := JobStatus{
		ID: j.id, Image: j.ref, Status: j.status, Error: j.err, CreatedAt: j.createdAt,
		Progress: Progress{Layers: int(j.layers.Load()), LayersDone: j.layersDone.Load(), LayersCached: j.layersCached.Load(), BytesRead: j.bytesRead.Load()},
	}
	if !j.startedAt.IsZero() {
		t := j.startedAt
		st.StartedAt = &t
	}
	if !j.finishedAt.IsZero() {
		t := j.finishedAt
		st.FinishedAt = &t
	}
	st.Grade, st.Practices = j.grade, j.practices
	return st
}

// result returns a job's report, or its state and error when there is
// none.
func (s *Server) result(j *job) (*scorecard.Report, string, string) {
	if j.remote {
		if j.status != StatusDone {
			return nil, j.status, j.err
		}
		rep, err := s.rq.report(context.Background(), j.id)
		if err != nil {
			return nil, StatusFailed, "the finished report is gone from Redis: " + err.Error()
		}
		return rep, j.status, j.err
	}
	return s.store.result(j)
}

// lookup finds a job here, else in Redis.
func (s *Server) lookup(id string) (*job, bool) {
	if j, ok := s.store.get(id); ok {
		return j, true
	}
	if s.rq == nil || !idPattern.MatchString(id) {
		return nil, false
	}
	j, err := s.rq.load(context.Background(), id)
	if err != nil || j == nil {
		return nil, false
	}
	j.remote = true
	return j, true
}

func (st *store) result(j *job) (*scorecard.Report, string, string) {
	j.mu.Lock()
	rep, status, msg, onDisk := j.report, j.status, j.err, j.onDisk
	j.mu.Unlock()
	if rep != nil || !onDisk {
		return rep, status, msg
	}
	s, err := st.load(j.id)
	if err != nil {
		return nil, StatusFailed, "the finished report is gone: " + err.Error()
	}
	return s.Report, status, msg
}

// observer feeds a job's progress and the cache metrics.
type observer struct {
	j  *job
	m  *metrics
	rq *shared
}

func (o observer) Started(img *image.Image) { o.j.layers.Store(int64(len(img.Layers))) }
func (o observer) LayerRead(_ *image.Layer, n int64) {
	o.j.bytesRead.Add(n)
}
func (o observer) LayerDone(l *image.Layer, cached bool) {
	o.j.layersDone.Add(1)
	if o.rq != nil && o.j.shared {
		defer o.rq.progress(context.Background(), o.j)
	}
	if o.rq != nil && !cached && l != nil && l.DiffID.Hex != "" {
		o.rq.analysed(context.Background(), l.DiffID.String())
	}
	if cached {
		o.j.layersCached.Add(1)
		o.m.cache.WithLabelValues("hit").Inc()
	} else {
		o.m.cache.WithLabelValues("miss").Inc()
	}
}
func (o observer) Finished() {}

// enqueue queues j, or answers why it cannot.
func (s *Server) enqueue(j *job) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		s.metrics.requestsRejected.WithLabelValues("shutting_down").Inc()
		return http.StatusServiceUnavailable, errors.New("the server is shutting down and takes no new scans; retry on another replica")
	}
	if s.rq != nil {
		// Jobs without credentials go to the fleet's queue; jobs with
		// them run here, and only their state is shared.
		shared := j.keychain == nil
		if code, err := s.rq.create(context.Background(), j, shared); err != nil {
			if code == http.StatusTooManyRequests {
				s.metrics.requestsRejected.WithLabelValues("queue_full").Inc()
			}
			return code, err
		}
		if shared {
			return 0, nil
		}
	}
	select {
	case s.queue <- j:
	default:
		if s.rq != nil {
			s.rq.c.Del(context.Background(), redisJob(j.id))
		}
		s.metrics.requestsRejected.WithLabelValues("queue_full").Inc()
		return http.StatusTooManyRequests, fmt.Errorf("the scan queue is full (%d waiting); retry later", cap(s.queue))
	}
	s.store.put(j)
	s.metrics.queueDepth.Set(float64(len(s.queue)))
	return 0, nil
}

func (s *Server) worker() {
	defer s.workers.Done()
	for {
		select {
		case j, ok := <-s.queue:
			if !ok {
				return
			}
			s.metrics.queueDepth.Set(float64(len(s.queue)))
			s.run(j)
			continue
		default:
		}
		if s.rq == nil {
			j, ok := <-s.queue
			if !ok {
				return
			}
			s.metrics.queueDepth.Set(float64(len(s.queue)))
			s.run(j)
			continue
		}
		j, err := s.rq.claim(s.baseCtx, s.cfg.Now())
		if err != nil && s.baseCtx.Err() == nil {
			s.log.Warn("claiming a shared job", "error", err)
		}
		if j != nil {
			s.run(j)
			continue
		}
		select {
		case j, ok := <-s.queue:
			if !ok {
				return
			}
			s.run(j)
		case <-time.After(claimPoll):
		}
	}
}

// A result that cannot be recorded in Redis is tried again this often,
// this many times.
const (
	finishRetries   = 20
	finishRetryWait = 500 * time.Millisecond
)

// claimPoll is how often an idle worker looks at the shared queue.
const claimPoll = 200 * time.Millisecond

// run scans one job.
func (s *Server) run(j *job) {
	j.mu.Lock()
	j.status = StatusRunning
	j.startedAt = s.cfg.Now()
	kc := j.keychain
	j.keychain = nil
	j.mu.Unlock()
	s.metrics.running.Inc()
	defer s.metrics.running.Dec()
	if s.rq != nil && !j.shared {
		// A local job's state is shared too.
		s.rq.c.HSet(context.Background(), redisJob(j.id), "status", StatusRunning, "replica", s.rq.replica, "startedAt", stamp(j.startedAt))
	}

	ctx, cancel := context.WithTimeout(s.baseCtx, s.cfg.ScanTimeout)
	defer cancel()
	var lost atomic.Bool
	if j.shared {
		lctx, stop := context.WithCancel(ctx)
		defer stop()
		go s.rq.keepLease(lctx, j.id, func() { lost.Store(true); cancel() })
	}
	sc := s.cfg.Scanner
	if kc != nil {
		sc = sc.WithKeychain(kc)
	}
	start := time.Now()
	rep, err := sc.Scan(ctx, j.ref, observer{j: j, m: s.metrics, rq: s.rq})
	took := time.Since(start)
	result := "ok"
	if err != nil {
		result = "failed"
		switch {
		case s.baseCtx.Err() != nil:
			err = fmt.Errorf("server shutting down: %w", err)
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			err = fmt.Errorf("scan took longer than %s: %w", s.cfg.ScanTimeout, err)
		}
		// A registry may quote what it was sent: the message is kept,
		// logged and answered with the request's own password or token
		// hidden, and whatever the P1 rules find.
		err = errors.New(s.redacted(hideCredentials(kc, err.Error())))
	} else {
		markStale(rep, s.staleDB())
		if j.severities != nil {
			rep.Findings = scorecard.Filter(rep.Findings, j.severities)
		}
	}
	if j.shared && err != nil && s.baseCtx.Err() != nil {
		// Shutting down: another replica runs it.
		if herr := s.rq.handBack(context.Background(), j.id); herr != nil {
			s.log.Warn("handing a shared job back", "job", j.id, "error", herr)
		}
		s.log.Info("scan handed back", "job", j.id, "image", j.ref)
		return
	}
	s.metrics.scans.WithLabelValues(result).Inc()
	s.metrics.duration.WithLabelValues(result).Observe(took.Seconds())

	j.mu.Lock()
	j.finishedAt = s.cfg.Now()
	if err != nil {
		j.status, j.err = StatusFailed, err.Error()
	} else {
		j.finish(rep)
	}
	status, msg := j.status, j.err
	j.mu.Unlock()
	if s.rq != nil {
		ok, ferr := s.rq.finish(context.Background(), j, rep, status, msg, s.cfg.Now())
		for try := 0; ferr != nil && try < finishRetries && s.baseCtx.Err() == nil; try++ {
			// Redis restarting: keep the result until it is back (or
			// the lease is gone, and another replica runs the scan).
			time.Sleep(finishRetryWait)
			ok, ferr = s.rq.finish(context.Background(), j, rep, status, msg, s.cfg.Now())
		}
		switch {
		case ferr != nil:
			s.log.Error("recording the result in Redis", "job", j.id, "error", ferr)
		case !ok || lost.Load():
			s.log.Warn("lease lost: another replica runs the scan; this result is dropped", "job", j.id)
			return
		}
	}
	if err != nil {
		s.log.Warn("scan failed", "job", j.id, "image", j.ref, "seconds", took.Seconds(), "error", err)
		return
	}
	s.log.Info("scan done", "job", j.id, "image", j.ref, "seconds", took.Seconds(), "grade", rep.Grade, "findings", len(rep.Findings))
	if err := s.store.persist(j); err != nil {
		s.log.Error("keeping the report on disk", "job", j.id, "error", err)
		return
	}
	if s.store.dir != "" {
		j.mu.Lock()
		j.report, j.onDisk = nil, true
		j.mu.Unlock()
	}
}

// sweep forgets expired jobs until Shutdown and, with Redis, requeues
// shared jobs whose replica died.
func (s *Server) sweep() {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	var reap <-chan time.Time
	if s.rq != nil {
		rt := time.NewTicker(s.rq.lease / 3)
		defer rt.Stop()
		reap = rt.C
	}
	for {
		select {
		case <-s.janitor:
			return
		case <-reap:
			n, err := s.rq.reap(s.baseCtx, s.cfg.Now())
			if err != nil && s.baseCtx.Err() == nil {
				s.log.Warn("requeueing abandoned jobs", "error", err)
			}
			if n > 0 {
				s.log.Info("requeued jobs of a replica that stopped", "jobs", n)
			}
			s.metrics.queueDepth.Set(float64(s.rq.depth(s.baseCtx)))
		case <-t.C:
			s.store.expire()
			if s.limiter != nil {
				s.limiter.forget()
			}
		}
	}
}

// idPattern is the form of job ids: only these are looked up on disk.
var idPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// store keeps jobs in memory and finished reports on disk.
type store struct {
	dir string
	ttl time.Duration
	now func() time.Time

	mu   sync.Mutex
	jobs map[string]*job
}

// stored is a finished job as written to disk.
type stored struct {
	ID         string            `json:"id"`
	Image      string            `json:"image"`
	CreatedAt  time.Time         `json:"createdAt"`
	FinishedAt time.Time         `json:"finishedAt"`
	Artifact   *harborArtifact   `json:"artifact,omitempty"`
	Report     *scorecard.Report `json:"report"`
}

func newStore(dir string, ttl time.Duration, now func() time.Time) (*store, error) {
	if dir != "" {
		if err := os.MkdirAll(filepath.Join(dir, "reports"), 0o700); err != nil {
			return nil, fmt.Errorf("server state: %w", err)
		}
	}
	return &store{dir: dir, ttl: ttl, now: now, jobs: map[string]*job{}}, nil
}

func (st *store) put(j *job) {
	st.mu.Lock()
	st.jobs[j.id] = j
	st.mu.Unlock()
}

func (st *store) path(id string) string { return filepath.Join(st.dir, "reports", id+".json") }

// get finds a job in memory, else a finished one on disk.
func (st *store) get(id string) (*job, bool) {
	if !idPattern.MatchString(id) {
		return nil, false
	}
	st.mu.Lock()
	j, ok := st.jobs[id]
	st.mu.Unlock()
	if ok || st.dir == "" {
		return j, ok
	}
	s, err := st.load(id)
	if err != nil {
		return nil, false
	}
	if st.now().Sub(s.FinishedAt) > st.ttl {
		os.Remove(st.path(id))
		return nil, false
	}
	j = &job{id: id, ref: s.Image, artifact: s.Artifact, createdAt: s.CreatedAt, finishedAt: s.FinishedAt}
	j.finish(s.Report)
	j.report, j.onDisk = nil, true
	st.put(j)
	return j, true
}

// load reads a finished job from disk.
func (st *store) load(id string) (*stored, error) {
	b, err := os.ReadFile(st.path(id))
	if err != nil {
		return nil, err
	}
	var env struct {
		stored
		Report json.RawMessage `json:"report"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("%s: %w", st.path(id), err)
	}
	if len(env.Report) == 0 || env.ID != id {
		return nil, fmt.Errorf("%s: not the report of %s", st.path(id), id)
	}
	s := env.stored
	if s.Report, err = DecodeReport(env.Report); err != nil {
		return nil, fmt.Errorf("%s: %w", st.path(id), err)
	}
	return &s, nil
}

// persist writes a finished job's report.
func (st *store) persist(j *job) error {
	if st.dir == "" {
		return nil
	}
	j.mu.Lock()
	s := stored{ID: j.id, Image: j.ref, CreatedAt: j.createdAt, FinishedAt: j.finishedAt, Artifact: j.artifact, Report: j.report}
	j.mu.Unlock()
	f, err := atomicfile.Create(st.path(j.id), 0o600)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := json.NewEncoder(f).Encode(s); err != nil {
		return err
	}
	return f.Commit()
}

// expire forgets finished jobs older than the TTL, in memory and on disk.
func (st *store) expire() {
	now := st.now()
	st.mu.Lock()
	for id, j := range st.jobs {
		j.mu.Lock()
		old := !j.finishedAt.IsZero() && now.Sub(j.finishedAt) > st.ttl
		j.mu.Unlock()
		if old {
			delete(st.jobs, id)
		}
	}
	st.mu.Unlock()
	if st.dir == "" {
		return
	}
	ents, _ := os.ReadDir(filepath.Join(st.dir, "reports"))
	for _, e := range ents {
		info, err := e.Info()
		if err == nil && now.Sub(info.ModTime()) > st.ttl {
			os.Remove(filepath.Join(st.dir, "reports", e.Name()))
		}
	}
}

// ScanRequest is the body of POST /v1/scans.
type ScanRequest struct {
	// Image is the reference to scan (docker://REGISTRY/REPO:TAG or a
	// bare registry name; local transports are refused).
	Image       string       `json:"image"`
	Options     ScanOptions  `json:"options"`
	Credentials *Credentials `json:"credentials,omitempty"`
}

// ScanOptions tune one scan.
type ScanOptions struct {
	// Severity keeps only findings at these severities
	// ("high,critical"), like the CLI's --severity.
	Severity string `json:"severity,omitempty"`
}

// Credentials authenticate to the image's registry for this scan only.
type Credentials struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// Token is a registry bearer token (instead of a username).
	Token string `json:"token,omitempty"`
}

// ScanAccepted is the answer of POST /v1/scans.
type ScanAccepted struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Links  struct {
		Self   string `json:"self"`
		Report string `json:"report"`
	} `json:"links"`
}

func (s *Server) postScan(w http.ResponseWriter, r *http.Request) {
	var req ScanRequest
	if !s.decodeBody(w, r, &req, s.writeError) {
		return
	}
	ref, err := registryRef(req.Image)
	if err != nil {
		s.writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	sevs, err := scorecard.ParseSeverities(req.Options.Severity)
	if err != nil {
		s.writeError(w, http.StatusUnprocessableEntity, "options.severity: "+err.Error())
		return
	}
	j := &job{id: newID(), ref: ref, severities: sevs, status: StatusQueued, createdAt: s.cfg.Now()}
	if c := req.Credentials; c != nil {
		kc, err := c.keychain(ref)
		if err != nil {
			s.writeError(w, http.StatusUnprocessableEntity, err.Error())
			return
		}
		j.keychain = kc
	}
	if code, err := s.enqueue(j); err != nil {
		w.Header().Set("Retry-After", "10")
		s.writeError(w, code, err.Error())
		return
	}
	s.log.Info("scan queued", "job", j.id, "image", ref, "credentials", req.Credentials != nil)
	var a ScanAccepted
	a.ID, a.Status = j.id, StatusQueued
	a.Links.Self = "/v1/scans/" + j.id
	a.Links.Report = "/v1/scans/" + j.id + "/report"
	w.Header().Set("Location", a.Links.Self)
	writeJSON(w, http.StatusAccepted, "application/json", a)
}

// registryRef accepts only registry references: a server must not open
// files or the Docker Engine of its own host for a caller.
func registryRef(ref string) (string, error) {
	if ref == "" {
		return "", errors.New("image: missing")
	}
	r, err := image.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("image: %w", err)
	}
	switch r.Transport {
	case image.Registry:
		return ref, nil
	case "":
		if strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, ".") {
			return "", fmt.Errorf("image %q: the server scans registry images only (docker://REGISTRY/REPO:TAG)", ref)
		}
		return "docker://" + ref, nil
	default:
		return "", fmt.Errorf("image %q: the server scans registry images only (docker://REGISTRY/REPO:TAG), not %s", ref, r.Transport)
	}
}

// keychain resolves these credentials for ref's registry only.
func (c *Credentials) keychain(ref string) (authn.Keychain, error) {
	var a authn.Authenticator
	switch {
	case c.Token != "" && (c.Username != "" || c.Password != ""):
		return nil, errors.New("credentials: give a token or a username and password, not both")
	case c.Token != "":
		a = &authn.Bearer{Token: c.Token}
	case c.Username != "":
		a = &authn.Basic{Username: c.Username, Password: c.Password}
	default:
		return nil, errors.New("credentials: empty (give username and password, or token)")
	}
	r, err := image.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	n, err := name.ParseReference(r.Name)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return registryKeychain{host: n.Context().RegistryStr(), auth: a}, nil
}

// registryKeychain gives its credentials to one registry only, so they
// cannot leak to another host a manifest points at.
type registryKeychain struct {
	host string
	auth authn.Authenticator
}

// hideCredentials returns msg with the password or token of a request's
// credentials (kc, nil without) redacted.
func hideCredentials(kc authn.Keychain, msg string) string {
	k, ok := kc.(registryKeychain)
	if !ok {
		return msg
	}
	a, err := k.auth.Authorization()
	if err != nil {
		return msg
	}
	return redact.New(a.Password, a.RegistryToken).String(msg)
}

func (k registryKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if k.host != "" && r.RegistryStr() == k.host {
		return k.auth, nil
	}
	return authn.Anonymous, nil
}

func (s *Server) getScan(w http.ResponseWriter, r *http.Request) {
	j, ok := s.lookup(r.PathValue("id"))
	if !ok {
		s.writeError(w, http.StatusNotFound, "no scan "+r.PathValue("id")+" (unknown, or expired)")
		return
	}
	writeJSON(w, http.StatusOK, "application/json", j.snapshot())
}

// contentTypes are the media types of the report formats.
var contentTypes = map[string]string{
	"table":     "text/plain; charset=utf-8",
	"json":      "application/json",
	"sarif":     "application/sarif+json",
	"cyclonedx": "application/vnd.cyclonedx+json",
	"spdx":      "application/spdx+json",
	"html":      "text/html; charset=utf-8",
}

func (s *Server) getReport(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	enc, err := report.ScanFormats.Lookup(format)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, "format: "+err.Error())
		return
	}
	j, ok := s.lookup(r.PathValue("id"))
	if !ok {
		s.writeError(w, http.StatusNotFound, "no scan "+r.PathValue("id")+" (unknown, or expired)")
		return
	}
	rep, status, msg := s.result(j)
	switch status {
	case StatusFailed:
		s.writeError(w, http.StatusUnprocessableEntity, "scan failed: "+msg)
		return
	case StatusQueued, StatusRunning:
		w.Header().Set("Retry-After", "2")
		s.writeError(w, http.StatusConflict, "scan "+status+": poll GET /v1/scans/"+j.id)
		return
	}
	w.Header().Set("Content-Type", contentTypes[enc.ID])
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := enc.Encode(w, rep, report.Options{}); err != nil {
		s.log.Error("encoding report", "job", j.id, "format", enc.ID, "error", err)
	}
}

// metrics are the server's Prometheus metrics.
type metrics struct {
	scans            *prometheus.CounterVec
	duration         *prometheus.HistogramVec
	cache            *prometheus.CounterVec
	queueDepth       prometheus.Gauge
	queueCapacity    prometheus.Gauge
	running          prometheus.Gauge
	requestsRejected *prometheus.CounterVec
	admission        *prometheus.CounterVec
	dbRefresh        *prometheus.CounterVec
	verifications    *prometheus.CounterVec
}

// registerSharedCache exports the shared layer cache's counts.
func registerSharedCache(reg *prometheus.Registry, lc *rediscache.Store) {
	for _, c := range []struct {
		result string
		n      func(rediscache.Stats) int64
	}{
		{"local_hit", func(s rediscache.Stats) int64 { return s.LocalHits }},
		{"shared_hit", func(s rediscache.Stats) int64 { return s.SharedHits }},
		{"waited", func(s rediscache.Stats) int64 { return s.Waited }},
		{"miss", func(s rediscache.Stats) int64 { return s.Misses }},
		{"stored", func(s rediscache.Stats) int64 { return s.Stored }},
		{"too_large", func(s rediscache.Stats) int64 { return s.TooLarge }},
		{"error", func(s rediscache.Stats) int64 { return s.Errors }},
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "shipshape_shared_layer_cache_total",
			Help:        "Shared layer cache (Redis) lookups and writes, by result: local_hit, shared_hit (waited: after waiting for another replica), miss (analysed here), stored, too_large (kept local), error.",
			ConstLabels: prometheus.Labels{"result": c.result},
		}, func() float64 { return float64(c.n(lc.Stats())) }))
	}
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		scans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shipshape_scans_total", Help: "Scans finished, by result (ok, failed).",
		}, []string{"result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shipshape_scan_duration_seconds", Help: "Time a scan took, by result.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 14),
		}, []string{"result"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shipshape_layer_cache_total", Help: "Layers analysed, by layer cache result (hit, miss).",
		}, []string{"result"}),
		queueDepth:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "shipshape_queue_depth", Help: "Scans waiting for a worker."}),
		queueCapacity: prometheus.NewGauge(prometheus.GaugeOpts{Name: "shipshape_queue_capacity", Help: "Most scans that may wait."}),
		running:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "shipshape_scans_running", Help: "Scans running now."}),
		requestsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shipshape_requests_rejected_total", Help: "Requests refused, by reason.",
		}, []string{"reason"}),
		admission: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shipshape_admission_reviews_total", Help: "Admission reviews, by decision (allowed, denied, error).",
		}, []string{"decision"}),
	}
	m.dbRefresh = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shipshape_db_refresh_total", Help: "Refreshes of the vulnerability database from --db-repository, by result (ok, failed).",
	}, []string{"result"})
	m.verifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shipshape_verifications_total", Help: "Trust policy (P6) checks of POST /v1/verify and admission, by result (met, not_met, error).",
	}, []string{"result"})
	reg.MustRegister(m.scans, m.duration, m.cache, m.queueDepth, m.queueCapacity, m.running, m.requestsRejected, m.admission, m.dbRefresh, m.verifications)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
