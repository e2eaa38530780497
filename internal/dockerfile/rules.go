package dockerfile

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/secret"
	"github.com/shipshape-dev/shipshape/internal/shellcmd"
)

// Rule describes one Dockerfile rule.
type Rule struct {
	ID       string
	Practice scorecard.Practice
	Severity scorecard.Severity
	Title    string
	// Explanation says why the rule matters; Fix how to satisfy it.
	Explanation string
	Fix         string
	// Off rules run only when the policy gives them a severity.
	Off bool
}

// Rules lists every Dockerfile rule.
var Rules = []Rule{
	{ID: "SS-DF-001", Practice: scorecard.P2, Severity: scorecard.High, Title: "The final stage runs as root",
		Explanation: "Without a USER (or with USER root/0) the container runs as UID 0.",
		Fix:         "Create an unprivileged user and end the final stage with USER <uid>."},
	{ID: "SS-DF-002", Practice: scorecard.P9, Severity: scorecard.Medium, Title: "FROM uses latest or no tag",
		Explanation: "latest moves: rebuilds get a different base without any change to the Dockerfile.",
		Fix:         "Use a version tag, pinned by digest: FROM name:1.2.3@sha256:…"},
	{ID: "SS-DF-003", Practice: scorecard.P9, Severity: scorecard.Low, Title: "FROM is not pinned by digest",
		Explanation: "A tag can be re-pointed by whoever controls the repository; only a digest names exact content.",
		Fix:         "FROM name:tag@sha256:… and let Renovate or Dependabot update the digest."},
	{ID: "SS-DF-004", Practice: scorecard.P9, Severity: scorecard.High, Title: "FROM an image the policy does not trust",
		Explanation: "The base comes from a registry outside registries.trusted, or base.allow/base.deny rule it out.",
		Fix:         "Build on a trusted base, or extend registries.trusted in .shipshape.yaml after vetting it."},
	{ID: "SS-DF-005", Practice: scorecard.P9, Severity: scorecard.Low, Title: "ADD where COPY does",
		Explanation: "ADD also unpacks archives and fetches URLs; for a plain local file that magic is a surprise waiting to happen.",
		Fix:         "Use COPY for local files; keep ADD for archives you want unpacked."},
	{ID: "SS-DF-006", Practice: scorecard.P9, Severity: scorecard.Medium, Title: "ADD of a remote URL without --checksum",
		Explanation: "The download is not verified: whoever controls the URL controls what lands in the image.",
		Fix:         "ADD --checksum=sha256:<digest> URL DEST (or download in RUN and verify)."},
	{ID: "SS-DF-007", Practice: scorecard.P9, Severity: scorecard.High, Title: "A download is piped into a shell",
		Explanation: "curl … | sh runs whatever the server (or anything on the path) sends, unverified, during the build.",
		Fix:         "Download to a file, verify its checksum or signature, then run it."},
	{ID: "SS-DF-008", Practice: scorecard.P3, Severity: scorecard.Medium, Title: "apt-get install without apt-get update in the same RUN",
		Explanation: "The install uses whatever package index an earlier (cached) layer has: old versions, or failures when they leave the mirror.",
		Fix:         "RUN apt-get update && apt-get install -y … in one instruction."},
	{ID: "SS-DF-009", Practice: scorecard.P8, Severity: scorecard.Low, Title: "apt-get install without --no-install-recommends",
		Explanation: "Recommended packages are rarely needed in a container and add size and attack surface.",
		Fix:         "apt-get install -y --no-install-recommends …"},
	{ID: "SS-DF-010", Practice: scorecard.P8, Severity: scorecard.Low, Title: "apt-get install without removing the package lists",
		Explanation: "/var/lib/apt/lists stays in the layer: tens of MB of stale index.",
		Fix:         "End the RUN with && rm -rf /var/lib/apt/lists/* (or use RUN --mount=type=cache,target=/var/lib/apt/lists)."},
	{ID: "SS-DF-011", Practice: scorecard.P8, Severity: scorecard.Low, Title: "apk add without --no-cache",
		Explanation: "The apk index and cache stay in the layer.",
		Fix:         "apk add --no-cache … (or RUN --mount=type=cache,target=/var/cache/apk)."},
	{ID: "SS-DF-012", Practice: scorecard.P3, Severity: scorecard.Info, Title: "System packages are not upgraded",
		Explanation: "The image ships the base's packages as they were when the base was built; fixes published since are missing.",
		Fix:         "Rebuild on a fresh base regularly, or add apt-get upgrade -y / apk upgrade --no-cache to the build."},
	{ID: "SS-DF-013", Practice: scorecard.P1, Severity: scorecard.High, Title: "A secret is passed through ARG or ENV",
		Explanation: "ENV values are stored in the image config; ARG values used by RUN are stored in the image history. Anyone who pulls the image reads them.",
		Fix:         "Use RUN --mount=type=secret,id=NAME (docker build --secret id=NAME,…) and never put the value in ARG or ENV."},
	{ID: "SS-DF-014", Practice: scorecard.P1, Severity: scorecard.High, Title: "A credential file is copied into the image",
		Explanation: "Keys, .env files and registry credentials copied in stay in the layer even if a later RUN deletes them.",
		Fix:         "Mount the credential at build time with RUN --mount=type=secret (or type=ssh for keys), and add it to .dockerignore."},
	{ID: "SS-DF-015", Practice: scorecard.P1, Severity: scorecard.Medium, Title: "A token is used in RUN without a secret mount",
		Explanation: "The value reaches the RUN through ARG/ENV and is recorded in the image history.",
		Fix:         "RUN --mount=type=secret,id=token,env=TOKEN … (BuildKit) instead of ARG/ENV."},
	{ID: "SS-DF-016", Practice: scorecard.P2, Severity: scorecard.Medium, Title: "sudo in a RUN",
		Explanation: "Build steps already run as root until USER; sudo in the image means a non-root user can become root.",
		Fix:         "Run the step before USER (or switch USER root … USER app around it) and do not install sudo."},
	{ID: "SS-DF-017", Practice: scorecard.P2, Severity: scorecard.Medium, Title: "chmod 777",
		Explanation: "World-writable files let any process in the container replace what others execute or read.",
		Fix:         "chown the path to the user that writes it and use 755/644 (or 775 with a shared group)."},
	{ID: "SS-DF-018", Practice: scorecard.P1, Severity: scorecard.Medium, Title: "COPY . without a .dockerignore",
		Explanation: "The whole build context goes into the image: .git, .env files, keys and local build output included.",
		Fix:         "Add a .dockerignore beside the Dockerfile (at least .git, .env*, *.pem, node_modules), or COPY only what the image needs."},
	{ID: "SS-DF-019", Practice: scorecard.P3, Severity: scorecard.Info, Title: "Package installed without a pinned version", Off: true,
		Explanation: "Unpinned installs make builds non-reproducible (this rule is off by default: pinning also blocks security updates).",
		Fix:         "Pin versions (apt-get install pkg=1.2-3, apk add pkg=1.2-r3) and update them with a bot."},
	{ID: "SS-DF-020", Practice: scorecard.P3, Severity: scorecard.Medium, Title: "apt-get update in a RUN of its own",
		Explanation: "The layer with the index is cached: later installs use a stale index.",
		Fix:         "RUN apt-get update && apt-get install -y … && rm -rf /var/lib/apt/lists/* in one instruction."},
}

// RuleByID returns a rule.
func RuleByID(id string) (Rule, bool) {
	for _, r := range Rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// Options tune Lint.
type Options struct {
	// Policy decides trusted registries, digest pinning and rules that are
	// off by default (nil: the default policy).
	Policy *policy.Policy
	// Secrets detects secrets in ARG and ENV (nil: P1's rules,
	// secret.NewDockerfileDetector).
	Secrets SecretDetector
}

type linter struct {
	f     *File
	opts  Options
	out   []scorecard.Finding
	reach map[int]bool
	final map[int]bool
	stage int
}

// Lint checks the Dockerfile against every rule. Findings carry their
// Dockerfile lines; those an inline "# shipshape:ignore RULE reason"
// suppresses are returned separately.
func Lint(f *File, opts Options) ([]scorecard.Finding, []scorecard.Suppressed) {
	if opts.Policy == nil {
		opts.Policy = policy.Default()
	}
	if opts.Secrets == nil {
		opts.Secrets = defaultSecrets()
	}
	l := &linter{f: f, opts: opts, reach: f.Reachable(), final: map[int]bool{}}
	for _, i := range f.FinalChain() {
		l.final[i] = true
	}
	l.user()
	for i := range f.Stages {
		l.stage = i
		l.from(i)
		for _, c := range f.Stages[i].Commands {
			l.command(c)
		}
	}
	l.upgrade()
	return l.suppress()
}

// add records a finding of rule at the given lines.
func (l *linter) add(id string, start, end int, title string, ev map[string]any) *scorecard.Finding {
	r, _ := RuleByID(id)
	if r.Off && !l.opts.Policy.Enabled(id, false) {
		return nil
	}
	if title == "" {
		title = r.Title
	}
	f := scorecard.Finding{
		Practice: r.Practice, Rule: r.ID, Severity: r.Severity, Title: title,
		Description: r.Explanation, Fix: r.Fix, Evidence: ev,
		Source: &scorecard.Source{File: l.f.Path, StartLine: start, EndLine: end},
	}
	f.Fingerprint = fmt.Sprintf("%s:%s:%d", r.ID, l.f.Path, start)
	l.out = append(l.out, f)
	return &l.out[len(l.out)-1]
}

// secretScope downgrades a P1 finding in a stage whose content never
// reaches the final image, saying why it is safe.
func (l *linter) secretScope(f *scorecard.Finding) {
	if f == nil || l.reach[l.stage] {
		return
	}
	name := l.f.Stages[l.stage].Name
	if name == "" {
		name = fmt.Sprint(l.stage)
	}
	f.Severity = scorecard.Info
	if f.Evidence == nil {
		f.Evidence = map[string]any{}
	}
	f.Evidence["safe"] = true
	f.Evidence["reason"] = fmt.Sprintf("stage %q is not part of the final image and nothing is copied from it into the final image", name)
	f.Title += fmt.Sprintf(" (build stage %s only: safe)", name)
}

func (l *linter) user() {
	chain := l.f.FinalChain()
	var last *instructions.UserCommand
	for _, i := range chain {
		for _, c := range l.f.Stages[i].Commands {
			if u, ok := c.(*instructions.UserCommand); ok {
				last = u
			}
		}
	}
	final := l.f.Stages[chain[len(chain)-1]]
	if last == nil {
		base, line := l.f.Base()
		// Bases that are non-root by construction.
		if strings.Contains(base, "nonroot") || strings.Contains(base, "chainguard") {
			return
		}
		_, end := lines(final.Location)
		l.add("SS-DF-001", line, end, "The final stage has no USER: the image runs as root unless its base sets a user", map[string]any{"stage": final.Name})
		return
	}
	u, _, _ := strings.Cut(last.User, ":")
	if u == "root" || u == "0" {
		s, e := lines(last.Location())
		l.add("SS-DF-001", s, e, fmt.Sprintf("The final stage runs as root (USER %s)", last.User), map[string]any{"user": last.User})
	}
}

func (l *linter) from(i int) {
	st := l.f.Stages[i]
	s, e := lines(st.Location)
	base, ok := l.f.expand(st.BaseName)
	if !ok || strings.EqualFold(base, "scratch") || l.f.stageIndex(base, i) >= 0 {
		return
	}
	l.imageRef("FROM", base, s, e)
}

// imageRef checks an image named by FROM or COPY --from: tag, digest and
// the policy's trusted registries and allowed bases.
func (l *linter) imageRef(instr, base string, s, e int) {
	ref, err := policy.ParseRef(base)
	if err != nil {
		return
	}
	ev := map[string]any{"image": ref.String()}
	if ref.Digest == "" && (ref.Tag == "" || ref.Tag == "latest") {
		l.add("SS-DF-002", s, e, fmt.Sprintf("%s %s uses %s", instr, base, map[bool]string{true: "the latest tag", false: "no tag (latest)"}[ref.Tag == "latest"]), ev)
	}
	if ref.Digest == "" {
		if f := l.add("SS-DF-003", s, e, fmt.Sprintf("%s %s is not pinned by digest", instr, base), ev); f != nil && l.opts.Policy.PinDigest {
			f.Severity = scorecard.High
			f.Title += " (the policy requires digests)"
		}
	}
	if !l.opts.Policy.TrustedRef(ref) {
		l.add("SS-DF-004", s, e, fmt.Sprintf("%s %s: %s is not a trusted registry or repository", instr, base, ref.Name), ev)
	} else if ok, why := l.opts.Policy.BaseAllowed(ref); !ok && instr == "FROM" {
		l.add("SS-DF-004", s, e, fmt.Sprintf("%s %s: %s", instr, base, why), ev)
	}
}

var archiveExt = []string{".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz", ".tar.zst", ".tzst"}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "git@") || strings.HasPrefix(s, "git://")
}

func (l *linter) command(c instructions.Command) {
	s, e := lines(c.Location())
	switch c := c.(type) {
	case *instructions.UserCommand:
	case *instructions.AddCommand:
		for _, src := range c.SourcePaths {
			switch {
			case isURL(src):
				if c.Checksum == "" && !strings.Contains(src, "#") {
					l.add("SS-DF-006", s, e, "ADD "+src+" without --checksum", map[string]any{"source": src})
				}
			case !slices.ContainsFunc(archiveExt, func(x string) bool { return strings.HasSuffix(strings.ToLower(src), x) }):
				l.add("SS-DF-005", s, e, "ADD "+src+": COPY does the same without surprises", map[string]any{"source": src})
			}
			l.copySource("ADD", src, s, e, "")
		}
	case *instructions.CopyCommand:
		for _, src := range c.SourcePaths {
			l.copySource("COPY", src, s, e, c.From)
		}
		if from, ok := l.f.expand(c.From); c.From != "" && ok && l.f.stageIndex(from, l.stage) < 0 {
			l.imageRef("COPY --from", from, s, e)
		}
	case *instructions.ArgCommand:
		for _, kv := range c.Args {
			v := ""
			if kv.Value != nil {
				v = *kv.Value
			}
			l.secretVar("ARG", kv.Key, v, kv.Value != nil, s, e)
		}
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			l.secretVar("ENV", kv.Key, kv.Value, true, s, e)
		}
	case *instructions.RunCommand:
		l.run(c, s, e)
	}
}

func (l *linter) copySource(instr, src string, s, e int, from string) {
	if from != "" {
		return // from another stage or image: not the build context
	}
	if kind, ok := credentialFile(src); ok {
		f := l.add("SS-DF-014", s, e, fmt.Sprintf("%s copies the credential file %s into the image", instr, src), map[string]any{"source": src, "kind": kind})
		l.secretScope(f)
	}
	if (src == "." || src == "./" || src == "*") && !l.f.Dockerignore {
		l.add("SS-DF-018", s, e, instr+" "+src+" copies the whole build context and there is no .dockerignore", map[string]any{"source": src})
	}
}

func (l *linter) secretVar(kind, name, value string, hasValue bool, s, e int) {
	if kind == "ENV" && value == "" {
		return // an empty ENV holds nothing
	}
	what, byValue := l.opts.Secrets.Detect(name, value)
	if what == "" {
		return
	}
	ev := map[string]any{"variable": name, "kind": what, "instruction": kind}
	title := fmt.Sprintf("%s %s holds a secret", kind, name)
	switch {
	case byValue:
		title = fmt.Sprintf("%s %s has a value that looks like %s", kind, name, withArticle(what))
		ev["value"] = redact(value)
	case kind == "ARG" && !hasValue:
		title = fmt.Sprintf("ARG %s passes a secret by build argument: its value lands in the image history", name)
	}
	f := l.add("SS-DF-013", s, e, title, ev)
	if f != nil && kind == "ARG" && !hasValue && !byValue {
		f.Severity = scorecard.Medium
	}
	l.secretScope(f)
}

// redact keeps the first 4 characters of a value.
func redact(v string) string {
	if len(v) <= 4 {
		return "****"
	}
	return v[:4] + strings.Repeat("*", min(len(v)-4, 12))
}

// script returns the RUN's shell script (exec form: the command itself;
// heredocs: their bodies).
func runScript(c *instructions.RunCommand) (*shellcmd.Script, error) {
	var src strings.Builder
	if c.PrependShell {
		src.WriteString(strings.Join(c.CmdLine, " "))
	} else {
		args := c.CmdLine
		if len(args) >= 3 && (path.Base(args[0]) == "sh" || path.Base(args[0]) == "bash") && args[1] == "-c" {
			src.WriteString(args[2])
		} else {
			return &shellcmd.Script{Commands: []shellcmd.Command{{Args: args}}}, nil
		}
	}
	for _, h := range c.Files {
		src.WriteString("\n")
		src.WriteString(h.Data)
	}
	s := src.String()
	// A heredoc RUN's command line is "<<EOF" (or "bash <<EOF"): the body
	// is the script.
	if len(c.Files) > 0 && strings.Contains(strings.Join(c.CmdLine, " "), "<<") {
		var b strings.Builder
		for _, h := range c.Files {
			b.WriteString(h.Data)
			b.WriteString("\n")
		}
		s = b.String()
	}
	return shellcmd.Parse(s)
}

// runInstr is what the RUN rules know about one RUN instruction.
type runInstr struct {
	sc     *shellcmd.Script
	mounts []*instructions.Mount
	// s and e are the instruction's first and last line.
	s, e int
}

// cacheAt reports whether a cache mount covers dir.
func (r *runInstr) cacheAt(dir string) bool {
	return slices.ContainsFunc(r.mounts, func(m *instructions.Mount) bool {
		return m.Type == instructions.MountTypeCache && strings.TrimSuffix(m.Target, "/") == dir
	})
}

// runRules check one RUN instruction each, in the order of the rule table.
var runRules = []func(*linter, *runInstr){
	(*linter).pipedToShell,   // SS-DF-007
	(*linter).aptInstall,     // SS-DF-008, -009, -010, -019, -020
	(*linter).apkNoCache,     // SS-DF-011, -019
	(*linter).secretVariable, // SS-DF-015
	(*linter).sudo,           // SS-DF-016
	(*linter).worldWritable,  // SS-DF-017
}

func (l *linter) run(c *instructions.RunCommand, s, e int) {
	sc, err := runScript(c)
	if err != nil {
		l.f.Warnings = append(l.f.Warnings, fmt.Sprintf("%s:%d: RUN not checked: %v", l.f.Path, s, err))
		return
	}
	r := &runInstr{sc: sc, mounts: instructions.GetMounts(c), s: s, e: e}
	for _, rule := range runRules {
		rule(l, r)
	}
}

// pipedToShell: SS-DF-007, a download piped into a shell.
func (l *linter) pipedToShell(r *runInstr) {
	for _, p := range r.sc.PipedToShell() {
		l.add("SS-DF-007", r.s, r.e, fmt.Sprintf("%s output is piped into a shell", p.Name()), map[string]any{"command": strings.Join(p.Args, " ")})
	}
}

// sudo: SS-DF-016, sudo or doas in a build.
func (l *linter) sudo(r *runInstr) {
	for _, cmd := range r.sc.Commands {
		if len(cmd.Args) > 0 && (path.Base(cmd.Args[0]) == "sudo" || path.Base(cmd.Args[0]) == "doas") {
			l.add("SS-DF-016", r.s, r.e, strings.Join(cmd.Args, " "), nil)
		}
	}
}

// aptInstall: apt-get install without update (SS-DF-008), without
// --no-install-recommends (-009), leaving the lists (-010), unpinned
// (-019); update without install (-020).
func (l *linter) aptInstall(r *runInstr) {
	var update, install, cleaned bool
	var installs []shellcmd.Command
	for _, cmd := range r.sc.Commands {
		switch cmd.Name() {
		case "apt-get", "apt":
			switch cmd.Sub() {
			case "update":
				update = true
			case "install":
				install = true
				installs = append(installs, cmd)
			case "upgrade", "dist-upgrade", "full-upgrade":
				install = true
			}
		case "rm":
			for _, a := range cmd.Unwrapped()[1:] {
				if strings.HasPrefix(a, "/var/lib/apt/lists") {
					cleaned = true
				}
			}
		}
	}
	s, e := r.s, r.e
	for _, cmd := range installs {
		if !update {
			l.add("SS-DF-008", s, e, "", map[string]any{"command": strings.Join(cmd.Args, " ")})
		}
		if !cmd.Has("--no-install-recommends") && !slices.ContainsFunc(cmd.Args, func(a string) bool {
			return strings.Contains(a, "Install-Recommends=false") || strings.Contains(a, "Install-Recommends=0")
		}) {
			l.add("SS-DF-009", s, e, "", map[string]any{"command": strings.Join(cmd.Args, " ")})
		}
		if !cleaned && !r.cacheAt("/var/lib/apt/lists") && !r.cacheAt("/var/lib/apt") {
			l.add("SS-DF-010", s, e, "", map[string]any{"command": strings.Join(cmd.Args, " ")})
		}
		l.unpinned(cmd, "=", s, e)
	}
	if update && !install {
		l.add("SS-DF-020", s, e, "", nil)
	}
}

// apkNoCache: apk add without --no-cache (SS-DF-011), unpinned (-019).
func (l *linter) apkNoCache(r *runInstr) {
	removesCache := slices.ContainsFunc(r.sc.Commands, func(c shellcmd.Command) bool {
		return c.Name() == "rm" && slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "/var/cache/apk") })
	})
	for _, cmd := range r.sc.Commands {
		if cmd.Name() != "apk" || cmd.Sub() != "add" {
			continue
		}
		if !cmd.Has("--no-cache") && !r.cacheAt("/var/cache/apk") && !r.cacheAt("/etc/apk/cache") && !removesCache {
			l.add("SS-DF-011", r.s, r.e, "apk add without --no-cache", map[string]any{"command": strings.Join(cmd.Args, " ")})
		}
		l.unpinned(cmd, "=", r.s, r.e)
	}
}

// worldWritable: SS-DF-017, chmod making files world-writable.
func (l *linter) worldWritable(r *runInstr) {
	for _, cmd := range r.sc.Commands {
		if cmd.Name() != "chmod" {
			continue
		}
		for _, a := range cmd.Unwrapped()[1:] {
			if a == "777" || a == "0777" || a == "a+rwx" || a == "o+w" || a == "a+w" || a == "666" || a == "0666" {
				l.add("SS-DF-017", r.s, r.e, "chmod "+strings.Join(cmd.Unwrapped()[1:], " ")+" makes files world-writable", map[string]any{"mode": a})
				break
			}
		}
	}
}

// secretVariable: SS-DF-015, a secret-looking variable used by a command
// of a RUN without a secret mount.
func (l *linter) secretVariable(r *runInstr) {
	if slices.ContainsFunc(r.mounts, func(m *instructions.Mount) bool { return m.Type == instructions.MountTypeSecret }) {
		return
	}
	for _, cmd := range r.sc.Commands {
		for _, a := range cmd.Args {
			if v := secretRef(a); v != "" {
				f := l.add("SS-DF-015", r.s, r.e, fmt.Sprintf("RUN uses $%s: pass it with a secret mount", v), map[string]any{"variable": v})
				l.secretScope(f)
				break
			}
		}
	}
}

// secretRef returns the name of a secret-looking variable referenced in a
// word ($TOKEN, ${NPM_TOKEN}), or "".
func secretRef(w string) string {
	for i := 0; i < len(w); i++ {
		if w[i] != '$' {
			continue
		}
		j := i + 1
		brace := j < len(w) && w[j] == '{'
		if brace {
			j++
		}
		k := j
		for k < len(w) && (w[k] == '_' || w[k] >= 'A' && w[k] <= 'Z' || w[k] >= 'a' && w[k] <= 'z' || w[k] >= '0' && w[k] <= '9') {
			k++
		}
		if name := w[j:k]; name != "" && secret.SecretName(name) {
			return name
		}
	}
	return ""
}

// unpinned reports the packages of an install command without a version.
func (l *linter) unpinned(cmd shellcmd.Command, sep string, s, e int) {
	var pkgs []string
	args := cmd.Unwrapped()
	seenSub := false
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "-") {
			continue
		}
		if !seenSub {
			seenSub = true
			continue
		}
		if !strings.Contains(a, sep) && !strings.HasPrefix(a, "$") && !strings.HasSuffix(a, ".deb") && !strings.HasSuffix(a, ".apk") {
			pkgs = append(pkgs, a)
		}
	}
	if len(pkgs) > 0 {
		l.add("SS-DF-019", s, e, "Packages without a pinned version: "+strings.Join(pkgs, " "), map[string]any{"packages": pkgs})
	}
}

// upgrade suggests upgrading system packages when the final image's
// stages use a package manager but never upgrade.
func (l *linter) upgrade() {
	usesPM, upgrades := false, false
	for i := range l.final {
		for _, c := range l.f.Stages[i].Commands {
			r, ok := c.(*instructions.RunCommand)
			if !ok {
				continue
			}
			sc, err := runScript(r)
			if err != nil {
				continue
			}
			if len(sc.Find("apt-get", "apt", "apk", "dnf", "yum", "microdnf", "zypper")) > 0 {
				usesPM = true
			}
			if len(sc.Upgrades()) > 0 {
				upgrades = true
			}
		}
	}
	if usesPM && !upgrades {
		_, line := l.f.Base()
		l.add("SS-DF-012", line, line, "", nil)
	}
}

// suppress moves the findings an inline ignore comment names into the
// suppressed list.
func (l *linter) suppress() ([]scorecard.Finding, []scorecard.Suppressed) {
	var out []scorecard.Finding
	var sup []scorecard.Suppressed
	for _, f := range l.out {
		var hit *inlineIgnore
		for i, ig := range l.f.ignores[f.Source.StartLine] {
			if slices.Contains(ig.Rules, f.Rule) || slices.Contains(ig.Rules, "all") {
				hit = &l.f.ignores[f.Source.StartLine][i]
				break
			}
		}
		if hit == nil {
			out = append(out, f)
			continue
		}
		sup = append(sup, scorecard.Suppressed{Rule: f.Rule, Reason: hit.Reason, Source: fmt.Sprintf("%s:%d", l.f.Path, hit.Line)})
	}
	slices.SortStableFunc(out, func(a, b scorecard.Finding) int {
		if a.Source.StartLine != b.Source.StartLine {
			return a.Source.StartLine - b.Source.StartLine
		}
		return strings.Compare(a.Rule, b.Rule)
	})
	return out, sup
}
