package imagecfg

import (
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/rules"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// account is one line of /etc/passwd or /etc/group.
type account struct {
	Name string
	ID   int
	GID  int // passwd only
	Line int
}

// parseIDs parses passwd or group content: NAME:x:ID[:GID…]. Malformed
// lines are skipped (a hostile file cannot stop the scan).
func parseIDs(s string, passwd bool) []account {
	var out []account
	for i, l := range strings.Split(s, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		parts := strings.Split(l, ":")
		if len(parts) < 3 {
			continue
		}
		id, err := strconv.Atoi(parts[2])
		if err != nil {
			continue
		}
		a := account{Name: parts[0], ID: id, Line: i + 1}
		if passwd && len(parts) > 3 {
			a.GID, _ = strconv.Atoi(parts[3])
		}
		out = append(out, a)
	}
	return out
}

func byName(as []account, n string) *account {
	for i := range as {
		if as[i].Name == n {
			return &as[i]
		}
	}
	return nil
}

func byID(as []account, id int) *account {
	for i := range as {
		if as[i].ID == id {
			return &as[i]
		}
	}
	return nil
}

// User is the resolved config User.
type User struct {
	Config string `json:"config"`
	Name   string `json:"name,omitempty"`
	UID    *int   `json:"uid,omitempty"`
	Group  string `json:"group,omitempty"`
	GID    *int   `json:"gid,omitempty"`
	// Problem is set when the user cannot run the container.
	Problem string `json:"problem,omitempty"`
}

func (st *state) users() {
	img := st.in.Image
	cfgUser := ""
	if img.Config != nil {
		cfgUser = strings.TrimSpace(img.Config.Config.User)
	}
	passwdText, passwdEntry, hasPasswd := st.text(passwdPath)
	groupText, groupEntry, hasGroup := st.text(groupPath)
	passwd := parseIDs(passwdText, true)
	groups := parseIDs(groupText, false)
	// A file larger than the facts read is known only in part: a name not
	// in that part may be further on.
	passwdCut := readInPart(passwdText, passwdEntry)
	groupCut := readInPart(groupText, groupEntry)

	u := User{Config: cfgUser}
	userPart, groupPart, _ := strings.Cut(cfgUser, ":")
	field := "Config.User"
	summary, partial := "", ""
	switch {
	case img.Transport == image.Dir:
		// A root filesystem directory has no config: which user runs it is
		// decided elsewhere, and nothing here can be judged about it.
		summary = "user unknown: a root filesystem directory has no image config"
		partial = "the user the container runs as is unknown for a directory: scan the built image"
	case userPart == "":
		zero := 0
		u.Name, u.UID = "root", &zero
		st.add(rules.Finding("SS-P2-001", scorecard.Finding{
			Field:       field,
			Title:       "The image runs as root: no USER is set",
			Description: "Without a USER the container's processes run as UID 0; a breakout or a writable mount then acts as root on the host's behalf.",
			Fix:         "Create an unprivileged user in the image and add USER <name or uid> as the last user instruction of the final stage (e.g. RUN adduser -D -u 10001 app + USER 10001).",
			Evidence:    map[string]any{"user": cfgUser},
		}))
		summary = "runs as root (no USER)"
	default:
		if uid, err := strconv.Atoi(userPart); err == nil {
			u.UID = &uid
			if a := byID(passwd, uid); a != nil {
				u.Name = a.Name
			}
		} else if a := byName(passwd, userPart); a != nil {
			u.Name, u.UID = a.Name, &a.ID
		} else if !hasPasswd && st.in.Tree.Exists(passwdPath) {
			// /etc/passwd is there but its content was not read (a link to
			// a file outside the paths read in the layer pass).
			u.Name = userPart
			u.Problem = "cannot verify: /etc/passwd is not a regular file shipshape reads"
			st.add(rules.Finding("SS-P2-002", scorecard.Finding{
				Severity: scorecard.Info, Field: field,
				Title:       fmt.Sprintf("USER %s could not be checked: /etc/passwd is a link", userPart),
				Description: "shipshape reads /etc/passwd in its single layer pass; here it is a symbolic link or hard link to another file, so the user could not be resolved.",
				Fix:         "Make /etc/passwd a regular file, or use a numeric USER uid:gid.",
				Evidence:    map[string]any{"user": cfgUser},
			}))
			summary = fmt.Sprintf("runs as %s (not verified)", userPart)
			partial = "USER " + userPart + " could not be resolved: /etc/passwd is a link shipshape does not follow"
		} else if passwdCut != "" {
			u.Name = userPart
			u.Problem = "cannot verify: " + passwdCut
			summary = fmt.Sprintf("runs as %s (not verified)", userPart)
			partial = "USER " + userPart + " could not be resolved: " + passwdCut
		} else {
			u.Name = userPart
			why := "/etc/passwd has no such user"
			if !hasPasswd {
				why = "the image has no /etc/passwd"
			}
			u.Problem = fmt.Sprintf("user %q does not exist: %s", userPart, why)
			f := rules.Finding("SS-P2-002", scorecard.Finding{
				Field:       field,
				Title:       fmt.Sprintf("USER %s does not exist in the image: the container will not start", userPart),
				Description: "The runtime resolves a user name against the image's own /etc/passwd; " + why + ", so `docker run` fails with \"unable to find user\".",
				Fix:         fmt.Sprintf("Create the user in the final stage (RUN adduser -D %s, or useradd) or use a numeric USER uid:gid.", userPart),
				Evidence:    map[string]any{"user": cfgUser},
			})
			if passwdEntry != nil {
				st.in.Locate(&f, passwdEntry)
			}
			st.add(f)
			summary = fmt.Sprintf("USER %s does not exist", userPart)
		}
		if groupPart != "" {
			if gid, err := strconv.Atoi(groupPart); err == nil {
				u.GID = &gid
				if g := byID(groups, gid); g != nil {
					u.Group = g.Name
				}
			} else if g := byName(groups, groupPart); g != nil {
				u.Group, u.GID = g.Name, &g.ID
			} else if groupCut != "" {
				u.Group = groupPart
				partial = addNote(partial, "USER group "+groupPart+" could not be resolved: "+groupCut)
			} else {
				u.Group = groupPart
				why := "/etc/group has no such group"
				if !hasGroup {
					why = "the image has no /etc/group"
				}
				u.Problem = addNote(u.Problem, fmt.Sprintf("group %q does not exist: %s", groupPart, why))
				f := rules.Finding("SS-P2-002", scorecard.Finding{
					Field:       field,
					Title:       fmt.Sprintf("USER group %s does not exist in the image: the container will not start", groupPart),
					Description: "The runtime resolves a group name against the image's own /etc/group; " + why + ".",
					Fix:         fmt.Sprintf("Create the group in the final stage (addgroup %s / groupadd) or use a numeric gid.", groupPart),
					Evidence:    map[string]any{"user": cfgUser},
				})
				if groupEntry != nil {
					st.in.Locate(&f, groupEntry)
				}
				st.add(f)
			}
		} else if u.UID != nil {
			if a := byID(passwd, *u.UID); a != nil {
				g := a.GID
				u.GID = &g
			}
		}
		switch {
		case u.UID != nil && *u.UID == 0:
			st.add(rules.Finding("SS-P2-001", scorecard.Finding{
				Field:       field,
				Title:       fmt.Sprintf("The image runs as root: USER %s is UID 0", cfgUser),
				Description: "USER names the root account; the container's processes run as UID 0.",
				Fix:         "Set USER to an unprivileged account (a non-zero uid), created in the final stage.",
				Evidence:    map[string]any{"user": cfgUser, "uid": 0},
			}))
			summary = fmt.Sprintf("runs as root (USER %s)", cfgUser)
		case u.UID != nil && u.Name == "" && passwdCut != "":
			summary = fmt.Sprintf("runs as uid %d (not verified)", *u.UID)
			partial = addNote(partial, fmt.Sprintf("uid %d could not be looked up: %s", *u.UID, passwdCut))
		case u.UID != nil && u.Name == "":
			f := rules.Finding("SS-P2-003", scorecard.Finding{
				Field:       field,
				Title:       fmt.Sprintf("USER %s has no /etc/passwd entry", cfgUser),
				Description: "A numeric UID without an entry runs, but with no home directory and no name; tools that look the user up (ssh, git, some runtimes) fail.",
				Fix:         fmt.Sprintf("Add the account to /etc/passwd in the final stage (adduser -D -u %d app), or accept it in the policy if the image is distroless by design.", *u.UID),
				Evidence:    map[string]any{"user": cfgUser, "uid": *u.UID},
			})
			st.add(f)
			summary = fmt.Sprintf("runs as uid %d (no passwd entry)", *u.UID)
		case summary == "":
			summary = fmt.Sprintf("runs as %s (uid %d)", u.Name, *u.UID)
		}
	}
	st.out.Sections["user"] = u

	st.accounts(passwd, groups, passwdEntry, groupEntry)
	if passwdCut != "" {
		// A second UID 0 account could hide past the part read.
		partial = addNote(partial, "the accounts past the part of /etc/passwd read were not checked")
	}
	st.shadowAndSudo()
	st.fileModes()
	st.out.Coverage = append(st.out.Coverage, scorecard.Coverage{
		Practice: scorecard.P2, Ran: true, Summary: summary, Partial: partial,
	})
}

// accounts reports duplicate UIDs and GIDs.
func (st *state) accounts(passwd, groups []account, pe, ge *fstree.Entry) {
	dup := func(as []account, what, file string, e *fstree.Entry) {
		seen := map[int][]string{}
		var ids []int
		for _, a := range as {
			if len(seen[a.ID]) == 0 {
				ids = append(ids, a.ID)
			}
			seen[a.ID] = append(seen[a.ID], a.Name)
		}
		for _, id := range ids {
			if names := seen[id]; len(names) > 1 {
				f := rules.Finding("SS-P2-010", scorecard.Finding{
					Title:       fmt.Sprintf("%s %d is shared by %s in %s", what, id, strings.Join(names, ", "), file),
					Description: "Accounts that share an id share every file and permission; a process running as one is indistinguishable from the other.",
					Fix:         "Give every account its own id.",
					Evidence:    map[string]any{"id": id, "names": names},
				})
				if e != nil {
					st.in.Locate(&f, e)
				}
				f.Fingerprint = fmt.Sprintf("SS-P2-010:%s:%d", file, id)
				st.add(f)
			}
		}
	}
	dup(passwd, "UID", passwdPath, pe)
	dup(groups, "GID", groupPath, ge)
}

// ShadowBaseLayers returns how many of img's layers its base image made
// (see BaseLayers). It splits the password hashes of the final /etc/shadow
// between P1 and P2, so that each is reported once:
//
//   - a hash of an account that the base image's /etc/shadow (its last
//     version in these layers) already had is the base's: P2 reports it
//     (SS-P2-009), P1 does not;
//   - a hash the build added (a new account, a password set on a locked
//     one, a shadow file the base lacked) is a secret the build put into
//     the image: P1 reports it (SS-P1-shadow-hash), P2 does not.
//
// An empty password field is never a secret: P2 always reports it
// (SS-P2-008).
func ShadowBaseLayers(img *image.Image) int {
	if img == nil {
		return 0
	}
	return img.BaseLayers()
}

// baseShadow returns the account states of the base image's /etc/shadow:
// its last version written in the first base layers (nil: none).
func (st *state) baseShadow(base int) map[string]string {
	for i := min(base, len(st.facts)) - 1; i >= 0; i-- {
		if st.facts[i] != nil && st.facts[i].Shadow != nil {
			return st.facts[i].Shadow
		}
	}
	return nil
}

func (st *state) shadowAndSudo() {
	if _, e, f := st.final(shadowPath); f != nil {
		names := make([]string, 0, len(f.Shadow))
		for n := range f.Shadow {
			names = append(names, n)
		}
		sort.Strings(names)
		base := st.baseShadow(ShadowBaseLayers(st.in.Image))
		for _, n := range names {
			var fd scorecard.Finding
			if f.Shadow[n] == "hash" && base[n] != "hash" {
				continue // the build's: P1 reports it (ShadowBaseLayers)
			}
			switch f.Shadow[n] {
			case "empty":
				fd = rules.Finding("SS-P2-008", scorecard.Finding{
					Title:       fmt.Sprintf("Account %s has an empty password in /etc/shadow", n),
					Description: "An empty password field lets anyone log in as the account (su, login, sshd with PermitEmptyPasswords) without a password.",
					Fix:         fmt.Sprintf("Lock the account: passwd -l %s (or set the field to ! or *).", n),
				})
			case "hash":
				fd = rules.Finding("SS-P2-009", scorecard.Finding{
					Title:       fmt.Sprintf("Account %s has a password hash in /etc/shadow", n),
					Description: "The image ships a usable password for the account; everyone who pulls the image can crack it offline, and it is the same in every container.",
					Fix:         fmt.Sprintf("Lock the account (passwd -l %s) and use keys or the orchestrator's exec for access.", n),
				})
			default:
				continue
			}
			fd.Evidence = map[string]any{"account": n}
			st.in.Locate(&fd, e)
			fd.Fingerprint = fmt.Sprintf("%s:%s", fd.Rule, n)
			st.add(fd)
		}
	}
	for _, p := range []string{"/usr/bin/sudo", "/bin/sudo", "/usr/sbin/sudo"} {
		if _, e, _ := st.final(p); e != nil {
			f := rules.Finding("SS-P2-006", scorecard.Finding{
				Title:       "sudo is installed",
				Description: "sudo in a container turns any foothold as the unprivileged user into a path to root; containers are started with the user they need.",
				Fix:         "Remove sudo from the image; do privileged setup in RUN instructions before USER, at build time.",
				Package:     st.pkgRef(p),
			})
			st.in.Locate(&f, e)
			st.add(f)
			break
		}
	}
	// NOPASSWD rules in every final sudoers file.
	for i, f := range st.facts {
		for file, lines := range f.NoPasswd {
			e := st.in.Tree.Lookup(file)
			if e == nil || int(e.Layer) != i+1 {
				continue
			}
			for _, l := range lines {
				fd := rules.Finding("SS-P2-007", scorecard.Finding{
					Title:       fmt.Sprintf("sudoers grants passwordless root: %s", l),
					Description: "A NOPASSWD rule lets the user become root without any secret: running as non-root protects nothing.",
					Fix:         "Delete the NOPASSWD rule (and sudo itself) from the image.",
					Evidence:    map[string]any{"line": l},
				})
				st.in.Locate(&fd, e)
				fd.Fingerprint = fmt.Sprintf("SS-P2-007:%s:%s", file, l)
				st.add(fd)
			}
		}
	}
}

func (st *state) pkgRef(p string) *scorecard.PackageRef {
	o := st.owner(p)
	if o == "" {
		return nil
	}
	return &scorecard.PackageRef{Name: o, Version: st.in.System.Version(o)}
}

// tmpLike are directories where world-writable entries are expected.
var tmpLike = []string{"/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/dev", "/proc", "/sys"}

func isTmpLike(p string) bool {
	for _, t := range tmpLike {
		if p == t || strings.HasPrefix(p, t+"/") {
			return true
		}
	}
	return false
}

// fileModes reports setuid/setgid files, file capabilities and
// world-writable entries of the final filesystem.
func (st *state) fileModes() {
	max := st.maxListed()
	counts := map[string]int{}
	emit := func(f scorecard.Finding) {
		counts[f.Rule]++
		if counts[f.Rule] <= max {
			st.add(f)
		}
	}
	var setuid []string
	_ = st.in.Tree.Walk(func(e *fstree.Entry) error {
		if e.Mode()&(fs.ModeSetuid|fs.ModeSetgid|0o002) == 0 && len(e.Capability()) == 0 {
			return nil // nothing to report: the path is not built
		}
		p := fstree.Display(e.Path())
		if e.Type == fstree.Regular && e.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			bits := "setuid"
			sev := scorecard.Medium
			if e.Mode()&fs.ModeSetuid == 0 {
				bits = "setgid"
				sev = scorecard.Low
			} else if e.Mode()&fs.ModeSetgid != 0 {
				bits = "setuid and setgid"
			}
			owner := fmt.Sprintf("uid %d", e.UID)
			if e.Mode()&fs.ModeSetuid == 0 {
				owner = fmt.Sprintf("gid %d", e.GID)
			}
			f := rules.Finding("SS-P2-004", scorecard.Finding{
				Severity:    sev,
				Title:       fmt.Sprintf("%s is %s (%s)", p, bits, owner),
				Description: "A setuid or setgid program runs with its owner's rights whatever user starts it: every one is a way from the container's user back to root.",
				Fix:         fmt.Sprintf("Remove the bit in the final stage (RUN chmod u-s,g-s %s) or the program itself; containers rarely need su, passwd or mount.", p),
				Evidence:    map[string]any{"mode": fmt.Sprintf("%#o", e.UnixPerm()), "uid": e.UID, "gid": e.GID},
				Package:     st.pkgRef(e.Path()),
			})
			st.in.Locate(&f, e)
			f.Fingerprint = "SS-P2-004:" + p
			emit(f)
			setuid = append(setuid, p)
		}
		if len(e.Capability()) > 0 {
			caps := DecodeCaps(e.Capability())
			f := rules.Finding("SS-P2-005", scorecard.Finding{
				Title:       fmt.Sprintf("%s has file capabilities (%s)", p, strings.Join(caps, ",")),
				Description: "File capabilities grant privileges to whoever executes the file, like a narrow setuid bit.",
				Fix:         fmt.Sprintf("Remove them (RUN setcap -r %s) and grant the capability to the container instead (--cap-add) if it is really needed.", p),
				Evidence:    map[string]any{"capabilities": caps, "xattr": fmt.Sprintf("%x", e.Capability())},
				Package:     st.pkgRef(e.Path()),
			})
			st.in.Locate(&f, e)
			f.Fingerprint = "SS-P2-005:" + p
			emit(f)
		}
		if e.Mode()&0o002 != 0 && (e.Type == fstree.Regular || e.Type == fstree.Dir) && !isTmpLike(e.Path()) {
			if e.Type == fstree.Dir && e.Mode()&fs.ModeSticky != 0 {
				return nil
			}
			kind := "file"
			if e.Type == fstree.Dir {
				kind = "directory without the sticky bit"
			}
			f := rules.Finding("SS-P2-011", scorecard.Finding{
				Title:       fmt.Sprintf("%s is a world-writable %s", p, kind),
				Description: "Any user in the container can replace or add files here; a process that later reads or executes them runs the attacker's content.",
				Fix:         fmt.Sprintf("RUN chmod o-w %s (chmod 777 is never needed: chown the path to the user that writes it).", p),
				Evidence:    map[string]any{"mode": fmt.Sprintf("%#o", e.UnixPerm())},
			})
			st.in.Locate(&f, e)
			f.Fingerprint = "SS-P2-011:" + p
			emit(f)
		}
		return nil
	})
	for rule, n := range counts {
		if n > max {
			st.add(rules.Finding(rule, scorecard.Finding{
				Severity: scorecard.Info,
				Title:    fmt.Sprintf("%d more %s findings not listed", n-max, rule),
				Evidence: map[string]any{"total": n},
			}))
		}
	}
	if len(setuid) > 0 {
		st.out.Sections["setuid"] = setuid
	}
}

// capNames are the Linux capabilities by bit number.
var capNames = []string{"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore"}

// DecodeCaps decodes a security.capability xattr (vfs_cap_data, revisions
// 1–3) into capability names with their sets: "cap_net_raw+ep".
func DecodeCaps(b []byte) []string {
	if len(b) < 12 {
		return []string{"malformed"}
	}
	le := func(i int) uint32 { return uint32(b[i]) | uint32(b[i+1])<<8 | uint32(b[i+2])<<16 | uint32(b[i+3])<<24 }
	magic := le(0)
	effective := magic&1 != 0
	perm, inh := uint64(le(4)), uint64(le(8))
	if magic&0xff000000 >= 0x02000000 && len(b) >= 20 {
		perm |= uint64(le(12)) << 32
		inh |= uint64(le(16)) << 32
	}
	var out []string
	for i := 0; i < 64; i++ {
		bit := uint64(1) << i
		if perm&bit == 0 && inh&bit == 0 {
			continue
		}
		name := fmt.Sprintf("cap_%d", i)
		if i < len(capNames) {
			name = "cap_" + capNames[i]
		}
		sets := ""
		if effective {
			sets += "e"
		}
		if inh&bit != 0 {
			sets += "i"
		}
		if perm&bit != 0 {
			sets += "p"
		}
		out = append(out, name+"+"+sets)
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

// addNote appends more to the "; "-separated notes s.
func addNote(s, more string) string {
	if s == "" {
		return more
	}
	return s + "; " + more
}

// readInPart says how a file was read in part ("" when it was read
// whole): the layer pass reads at most the first MiB of /etc/passwd and
// /etc/group.
func readInPart(text string, e *fstree.Entry) string {
	if e == nil || e.Size <= int64(len(text)) {
		return ""
	}
	return fmt.Sprintf("%s is %d bytes and only its first %d were read", fstree.Display(e.Path()), e.Size, len(text))
}
