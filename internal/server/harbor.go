package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/shipshape-dev/shipshape/internal/report"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// Media types of Harbor's pluggable scanner API (v1.1, v1.2).
const (
	MimeHarborMetadata    = "application/vnd.scanner.adapter.metadata+json; version=1.1"
	MimeHarborMetadataV10 = "application/vnd.scanner.adapter.metadata+json; version=1.0"
	MimeHarborScanRequest = "application/vnd.scanner.adapter.scan.request+json"
	MimeHarborScanResp    = "application/vnd.scanner.adapter.scan.response+json; version=1.0"
	MimeHarborError       = "application/vnd.scanner.adapter.error+json; version=1.0"
	MimeHarborVulnLegacy  = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
	MimeHarborVuln        = "application/vnd.security.vulnerability.report; version=1.1"
	MimeHarborSBOM        = "application/vnd.security.sbom.report+json; version=1.0"
	MimeHarborRaw         = "application/vnd.scanner.adapter.vuln.report.raw"
	// MimeScorecard is shipshape's own report type: the full nine-practice
	// scorecard, the JSON of "shipshape scan -f json".
	MimeScorecard = "application/vnd.shipshape.scorecard+json; version=1.0"

	mimeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mimeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mimeCycloneDX      = "application/vnd.cyclonedx+json"
	mimeSPDX           = "application/spdx+json"
)

type harborScanner struct {
	Name    string `json:"name"`
	Vendor  string `json:"vendor"`
	Version string `json:"version"`
}

type harborCapability struct {
	Type                 string         `json:"type"`
	ConsumesMimeTypes    []string       `json:"consumes_mime_types"`
	ProducesMimeTypes    []string       `json:"produces_mime_types"`
	AdditionalAttributes map[string]any `json:"additional_attributes,omitempty"`
}

type harborMetadata struct {
	Scanner      harborScanner      `json:"scanner"`
	Capabilities []harborCapability `json:"capabilities"`
	Properties   map[string]string  `json:"properties,omitempty"`
}

type harborRegistry struct {
	URL           string `json:"url"`
	Authorization string `json:"authorization,omitempty"`
}

type harborArtifact struct {
	Repository string `json:"repository,omitempty"`
	Digest     string `json:"digest,omitempty"`
	Tag        string `json:"tag,omitempty"`
	MimeType   string `json:"mime_type,omitempty"`
}

type harborScanRequest struct {
	Registry            *harborRegistry   `json:"registry"`
	Artifact            *harborArtifact   `json:"artifact"`
	EnabledCapabilities []json.RawMessage `json:"enabled_capabilities,omitempty"`
}

type harborErrorBody struct {
	Error struct {
		Message string `json:"message"`
	} `json:"error"`
}

type harborCVSS struct {
	ScoreV3  *float64 `json:"score_v3,omitempty"`
	VectorV3 string   `json:"vector_v3,omitempty"`
	ScoreV2  *float64 `json:"score_v2,omitempty"`
	VectorV2 string   `json:"vector_v2,omitempty"`
}

type harborVuln struct {
	ID               string         `json:"id"`
	Package          string         `json:"package"`
	Version          string         `json:"version"`
	FixVersion       string         `json:"fix_version,omitempty"`
	Severity         string         `json:"severity"`
	Description      string         `json:"description,omitempty"`
	Links            []string       `json:"links,omitempty"`
	PreferredCVSS    *harborCVSS    `json:"preferred_cvss,omitempty"`
	VendorAttributes map[string]any `json:"vendor_attributes,omitempty"`
}

type harborVulnReport struct {
	GeneratedAt     time.Time      `json:"generated_at"`
	Artifact        harborArtifact `json:"artifact"`
	Scanner         harborScanner  `json:"scanner"`
	Severity        string         `json:"severity,omitempty"`
	Vulnerabilities []harborVuln   `json:"vulnerabilities"`
}

type harborSBOMReport struct {
	GeneratedAt      time.Time      `json:"generated_at"`
	Artifact         harborArtifact `json:"artifact"`
	Scanner          harborScanner  `json:"scanner"`
	VendorAttributes map[string]any `json:"vendor_attributes,omitempty"`
	MediaType        string         `json:"media_type"`
	SBOM             map[string]any `json:"sbom"`
}

func (s *Server) harborError(w http.ResponseWriter, code int, msg string) {
	var e harborErrorBody
	e.Error.Message = s.redacted(msg)
	writeJSON(w, code, MimeHarborError, e)
}

func (s *Server) scannerInfo() harborScanner {
	return harborScanner{Name: "shipshape", Vendor: "shipshape", Version: s.cfg.ToolVersion}
}

func (s *Server) harborMetadata(w http.ResponseWriter, r *http.Request) {
	consumes := []string{mimeOCIManifest, mimeDockerManifest}
	md := harborMetadata{
		Scanner: s.scannerInfo(),
		Capabilities: []harborCapability{
			{Type: "vulnerability", ConsumesMimeTypes: consumes, ProducesMimeTypes: []string{MimeHarborVuln, MimeHarborVulnLegacy, MimeScorecard}},
			{Type: "sbom", ConsumesMimeTypes: consumes, ProducesMimeTypes: []string{MimeHarborSBOM},
				AdditionalAttributes: map[string]any{"sbom_media_types": []string{mimeCycloneDX, mimeSPDX}}},
		},
		Properties: map[string]string{
			"harbor.scanner-adapter/scanner-type": "os-package-vulnerability",
			"org.shipshape/practices":             "P1 secrets, P2 non-root, P3 fresh base, P4 SBOM, P5 vulnerabilities, P6 content trust, P7 code, P8 slim, P9 trusted bases",
		},
	}
	var newest time.Time
	for _, m := range s.dbStatus().Ecosystems {
		if m.UpdatedAt.After(newest) {
			newest = m.UpdatedAt
		}
	}
	if !newest.IsZero() {
		md.Properties["harbor.scanner-adapter/vulnerability-database-updated-at"] = newest.UTC().Format(time.RFC3339)
	}
	mt := MimeHarborMetadata
	if strings.Contains(r.Header.Get("Accept"), "version=1.0") {
		// A v1.1 API client (Harbor before 2.11) knows metadata 1.0.
		mt = MimeHarborMetadataV10
	}
	writeJSON(w, http.StatusOK, mt, md)
}

// digestPattern is an OCI content digest.
var digestPattern = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$`)

// repoPattern is a repository path (distribution's grammar, lower case).
var repoPattern = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)

func (s *Server) harborScan(w http.ResponseWriter, r *http.Request) {
	if ct := mediaBase(r.Header.Get("Content-Type")); ct != "" && ct != MimeHarborScanRequest && ct != "application/json" {
		s.harborError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q: want %s", ct, MimeHarborScanRequest))
		return
	}
	var req harborScanRequest
	if !s.decodeBodyLax(w, r, &req, s.harborError) {
		return
	}
	ref, kc, err := s.harborTarget(&req)
	if err != nil {
		s.harborError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	a := *req.Artifact
	j := &job{id: newID(), ref: ref, artifact: &a, status: StatusQueued, createdAt: s.cfg.Now(), keychain: kc}
	if code, err := s.enqueue(j); err != nil {
		w.Header().Set("Retry-After", "10")
		s.harborError(w, code, err.Error())
		return
	}
	s.log.Info("harbor scan queued", "job", j.id, "image", ref, "credentials", kc != nil)
	writeJSON(w, http.StatusAccepted, MimeHarborScanResp, map[string]string{"id": j.id})
}

// harborTarget checks a Harbor scan request and returns the reference to
// scan and the keychain for its authorization.
func (s *Server) harborTarget(req *harborScanRequest) (string, authn.Keychain, error) {
	if req.Registry == nil || req.Registry.URL == "" {
		return "", nil, errors.New("registry.url: missing")
	}
	if req.Artifact == nil {
		return "", nil, errors.New("artifact: missing")
	}
	u, err := url.Parse(req.Registry.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") || u.User != nil {
		return "", nil, fmt.Errorf("registry.url %q: want http(s)://HOST[:PORT]", req.Registry.URL)
	}
	if u.Scheme == "http" && !s.cfg.Insecure {
		return "", nil, fmt.Errorf("registry.url %q: plain HTTP needs the server's --insecure", req.Registry.URL)
	}
	if !repoPattern.MatchString(req.Artifact.Repository) {
		return "", nil, fmt.Errorf("artifact.repository %q: not a repository name", req.Artifact.Repository)
	}
	if !digestPattern.MatchString(req.Artifact.Digest) {
		return "", nil, fmt.Errorf("artifact.digest %q: want ALGORITHM:HEX (sha256:…)", req.Artifact.Digest)
	}
	if mt := req.Artifact.MimeType; mt != "" && mt != mimeOCIManifest && mt != mimeDockerManifest {
		return "", nil, fmt.Errorf("artifact.mime_type %q: shipshape scans images (%s, %s)", mt, mimeOCIManifest, mimeDockerManifest)
	}
	ref := "docker://" + u.Host + "/" + req.Artifact.Repository + "@" + req.Artifact.Digest
	if req.Registry.Authorization == "" {
		return ref, nil, nil
	}
	a, err := parseAuthorization(req.Registry.Authorization)
	if err != nil {
		return "", nil, err
	}
	return ref, registryKeychain{host: u.Host, auth: a}, nil
}

// parseAuthorization turns Harbor's Authorization value ("Basic …" or
// "Bearer …") into an authenticator. The error never repeats the value.
func parseAuthorization(v string) (authn.Authenticator, error) {
	scheme, cred, ok := strings.Cut(v, " ")
	if !ok || cred == "" {
		return nil, errors.New("registry.authorization: want \"Basic BASE64\" or \"Bearer TOKEN\"")
	}
	switch strings.ToLower(scheme) {
	case "basic":
		b, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return nil, errors.New("registry.authorization: Basic credentials are not base64")
		}
		user, pass, ok := strings.Cut(string(b), ":")
		if !ok {
			return nil, errors.New("registry.authorization: Basic credentials are not USER:PASSWORD")
		}
		return &authn.Basic{Username: user, Password: pass}, nil
	case "bearer":
		return &authn.Bearer{Token: cred}, nil
	default:
		return nil, fmt.Errorf("registry.authorization: scheme %q: want Basic or Bearer", scheme)
	}
}

func (s *Server) harborReport(w http.ResponseWriter, r *http.Request) {
	accept := r.Header.Get("Accept")
	kind := ""
	switch mediaBase(accept) {
	case "", "*/*", "application/json", mediaBase(MimeHarborVuln):
		kind = MimeHarborVuln
	case mediaBase(MimeHarborVulnLegacy):
		kind = MimeHarborVulnLegacy
	case mediaBase(MimeHarborSBOM):
		kind = MimeHarborSBOM
	case mediaBase(MimeScorecard), MimeHarborRaw:
		kind = MimeScorecard
	default:
		s.harborError(w, http.StatusNotImplemented, fmt.Sprintf("Accept %q: this scanner produces %s, %s, %s", accept, MimeHarborVuln, MimeHarborSBOM, MimeScorecard))
		return
	}
	// A "+" sent unescaped in the query arrives as a space.
	sbomType := strings.ReplaceAll(r.URL.Query().Get("sbom_media_type"), " ", "+")
	if kind == MimeHarborSBOM {
		if sbomType == "" {
			sbomType = mimeCycloneDX
		}
		if sbomType != mimeCycloneDX && sbomType != mimeSPDX {
			s.harborError(w, http.StatusBadRequest, fmt.Sprintf("sbom_media_type %q: want %s or %s", sbomType, mimeCycloneDX, mimeSPDX))
			return
		}
	}
	j, ok := s.lookup(r.PathValue("id"))
	if !ok {
		s.harborError(w, http.StatusNotFound, "no scan request "+r.PathValue("id")+" (unknown, or expired)")
		return
	}
	rep, status, msg := s.result(j)
	switch status {
	case StatusQueued, StatusRunning:
		w.Header().Set("Refresh-After", "5")
		w.Header().Set("Location", r.URL.RequestURI())
		w.WriteHeader(http.StatusFound)
		return
	case StatusFailed:
		s.harborError(w, http.StatusInternalServerError, "scan failed: "+msg)
		return
	}
	var art harborArtifact
	if j.artifact != nil {
		art = *j.artifact
	}
	switch kind {
	case MimeScorecard:
		writeJSON(w, http.StatusOK, MimeScorecard, rep)
	case MimeHarborSBOM:
		sb, err := sbomOf(rep, sbomType)
		if err != nil {
			s.harborError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, MimeHarborSBOM, harborSBOMReport{
			GeneratedAt: rep.CreatedAt, Artifact: art, Scanner: s.scannerInfo(), MediaType: sbomType, SBOM: sb,
		})
	default:
		writeJSON(w, http.StatusOK, kind, vulnReport(rep, art, s.scannerInfo()))
	}
}

func sbomOf(rep *scorecard.Report, mediaType string) (map[string]any, error) {
	var buf bytes.Buffer
	var err error
	if mediaType == mimeSPDX {
		err = report.SPDX(&buf, rep)
	} else {
		err = report.CycloneDX(&buf, rep)
	}
	if err != nil {
		return nil, fmt.Errorf("SBOM: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		return nil, fmt.Errorf("SBOM: %w", err)
	}
	return m, nil
}

// harborSeverity maps shipshape's severities onto Harbor's scale.
var harborSeverity = map[scorecard.Severity]string{
	scorecard.Critical: "Critical",
	scorecard.High:     "High",
	scorecard.Medium:   "Medium",
	scorecard.Low:      "Low",
	scorecard.Info:     "Negligible",
}

var severityRank = map[string]int{"Unknown": 0, "Negligible": 1, "Low": 2, "Medium": 3, "High": 4, "Critical": 5}

// vulnReport maps the P5 findings onto Harbor's vulnerability report.
func vulnReport(rep *scorecard.Report, art harborArtifact, sc harborScanner) harborVulnReport {
	out := harborVulnReport{GeneratedAt: rep.CreatedAt, Artifact: art, Scanner: sc, Vulnerabilities: []harborVuln{}}
	for _, f := range rep.Findings {
		id, _ := f.Evidence["id"].(string)
		if f.Practice != scorecard.P5 || id == "" || f.Package == nil {
			continue
		}
		v := harborVuln{
			ID: id, Package: f.Package.Name, Version: f.Package.Version,
			Severity:    harborSeverity[f.Severity],
			Description: f.Description,
			Links:       []string{"https://osv.dev/vulnerability/" + url.PathEscape(id)},
			VendorAttributes: map[string]any{
				"rule": f.Rule, "ecosystem": f.Package.Ecosystem, "fingerprint": f.Fingerprint,
			},
		}
		if v.Severity == "" {
			v.Severity = "Unknown"
		}
		if f.Package.PURL != "" {
			v.VendorAttributes["purl"] = f.Package.PURL
		}
		if f.Layer > 0 {
			v.VendorAttributes["layer"] = f.Layer
		}
		if f.Path != "" {
			v.VendorAttributes["path"] = f.Path
		}
		if fixed := strings1(f.Evidence["fixedVersions"]); len(fixed) > 0 {
			v.FixVersion = fixed[0]
		}
		if vec, _ := f.Evidence["cvssVector"].(string); vec != "" {
			score, _ := f.Evidence["cvssScore"].(float64)
			c := &harborCVSS{}
			if strings.HasPrefix(vec, "CVSS:3") {
				c.ScoreV3, c.VectorV3 = &score, vec
			} else if !strings.HasPrefix(vec, "CVSS:4") {
				c.ScoreV2, c.VectorV2 = &score, vec
			}
			if c.VectorV3 != "" || c.VectorV2 != "" {
				v.PreferredCVSS = c
			}
		}
		if severityRank[v.Severity] > severityRank[out.Severity] || out.Severity == "" {
			out.Severity = v.Severity
		}
		out.Vulnerabilities = append(out.Vulnerabilities, v)
	}
	return out
}

// strings1 reads a list of strings whether it is still a []string or came
// back from JSON as []any.
func strings1(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
