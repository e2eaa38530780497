package upstream

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Config says where each ecosystem's registry is and how to authenticate.
// LoadConfig fills it from the environment and the usual files.
type Config struct {
	Go        GoProxy
	Npm       NpmRegistry
	PyPI      PyPIIndex
	Maven     MavenRepo
	RubyGems  RubyGemsAPI
	Crates    CratesIndex
	NuGet     NuGetFeed
	Packagist PackagistRepo
	// Files are the configuration files that were read.
	Files []string
}

// LoadConfig reads, with getenv for the environment and home as the
// user's home directory:
//   - Go: GOPROXY, GOPRIVATE, GONOPROXY from the environment, else from the
//     go command's own file ($GOENV, default ~/.config/go/env, what `go env
//     -w` writes); credentials in proxy URLs are used as basic
//     authentication and never printed;
//   - npm: $NPM_CONFIG_USERCONFIG or ~/.npmrc — registry, @scope:registry,
//     //host/path/:_authToken (${VAR} expanded); NPM_CONFIG_REGISTRY;
//   - PyPI: PIP_INDEX_URL, else index-url of [global] in $PIP_CONFIG_FILE,
//     ~/.config/pip/pip.conf, ~/.pip/pip.conf or /etc/pip.conf;
//   - Maven: ~/.m2/settings.xml — the mirror of "*", "external:*" or
//     "central" and the server with its id (username, password, ${env.X});
//   - the others from SHIPSHAPE_RUBYGEMS_URL, SHIPSHAPE_CRATES_INDEX,
//     SHIPSHAPE_CRATES_API, SHIPSHAPE_NUGET_FLAT,
//     SHIPSHAPE_NUGET_REGISTRATION, SHIPSHAPE_PACKAGIST_URL and
//     SHIPSHAPE_MAVEN_REPOSITORY (which beats settings.xml).
func LoadConfig(getenv func(string) string, home string) (*Config, error) {
	c := &Config{}
	goenv := c.readGoEnv(getenv, home)
	goVar := func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return goenv[k]
	}
	c.Go = GoProxy{GOPROXY: goVar("GOPROXY"), GOPRIVATE: goVar("GOPRIVATE"), GONOPROXY: goVar("GONOPROXY")}
	if _, err := parseGOPROXY(c.Go.GOPROXY); err != nil {
		return nil, fmt.Errorf("GOPROXY: %w", err)
	}
	npmrc := getenv("NPM_CONFIG_USERCONFIG")
	if npmrc == "" && home != "" {
		npmrc = filepath.Join(home, ".npmrc")
	}
	if err := c.readNpmrc(npmrc, getenv); err != nil {
		return nil, err
	}
	if r := getenv("NPM_CONFIG_REGISTRY"); r != "" {
		c.Npm.Registry = r
	}
	if u := getenv("PIP_INDEX_URL"); u != "" {
		c.PyPI.Base = u
	} else {
		files := []string{getenv("PIP_CONFIG_FILE")}
		if home != "" {
			files = append(files, filepath.Join(home, ".config/pip/pip.conf"), filepath.Join(home, ".pip/pip.conf"))
		}
		for _, f := range append(files, "/etc/pip.conf") {
			if f == "" {
				continue
			}
			u, ok, err := readPipConf(f)
			if err != nil {
				return nil, err
			}
			if ok {
				c.Files = append(c.Files, f)
				c.PyPI.Base = u
				break
			}
		}
	}
	if home != "" {
		if err := c.readMavenSettings(filepath.Join(home, ".m2", "settings.xml"), getenv); err != nil {
			return nil, err
		}
	}
	for env, dst := range map[string]*string{
		"SHIPSHAPE_MAVEN_REPOSITORY":   &c.Maven.Base,
		"SHIPSHAPE_RUBYGEMS_URL":       &c.RubyGems.Base,
		"SHIPSHAPE_CRATES_INDEX":       &c.Crates.Index,
		"SHIPSHAPE_CRATES_API":         &c.Crates.API,
		"SHIPSHAPE_NUGET_FLAT":         &c.NuGet.Flat,
		"SHIPSHAPE_NUGET_REGISTRATION": &c.NuGet.Registration,
		"SHIPSHAPE_PACKAGIST_URL":      &c.Packagist.Base,
	} {
		if v := getenv(env); v != "" {
			*dst = v
		}
	}
	return c, nil
}

// Client returns the client of an ecosystem (nil: none), sending requests
// with hc.
func (c *Config) Client(eco string, client *http.Client) Client {
	var hc httpDoer = http.DefaultClient
	if client != nil {
		hc = client
	}
	switch eco {
	case Go:
		g := c.Go
		g.HTTP = hc
		return &g
	case Npm:
		n := c.Npm
		n.HTTP = hc
		return &n
	case PyPI:
		p := c.PyPI
		p.HTTP = hc
		return &p
	case Maven:
		m := c.Maven
		m.HTTP = hc
		return &m
	case RubyGems:
		g := c.RubyGems
		g.HTTP = hc
		return &g
	case Crates:
		cr := c.Crates
		cr.HTTP = hc
		return &cr
	case NuGet:
		n := c.NuGet
		n.HTTP = hc
		return &n
	case Packagist:
		p := c.Packagist
		p.HTTP = hc
		return &p
	}
	return nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func (c *Config) readNpmrc(name string, getenv func(string) string) error {
	b, err := os.ReadFile(name)
	if os.IsNotExist(err) || name == "" {
		return nil
	} else if err != nil {
		return fmt.Errorf("npmrc %s: %w", name, err)
	}
	c.Files = append(c.Files, name)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"'`)
		v = envRef.ReplaceAllStringFunc(v, func(m string) string { return getenv(m[2 : len(m)-1]) })
		switch {
		case k == "registry":
			c.Npm.Registry = v
		case strings.HasPrefix(k, "@") && strings.HasSuffix(k, ":registry"):
			if c.Npm.Scopes == nil {
				c.Npm.Scopes = map[string]string{}
			}
			c.Npm.Scopes[strings.TrimSuffix(k, ":registry")] = v
		case strings.HasPrefix(k, "//") && strings.HasSuffix(k, ":_authToken"):
			if c.Npm.Tokens == nil {
				c.Npm.Tokens = map[string]string{}
			}
			key := strings.TrimSuffix(k, ":_authToken")
			if !strings.HasSuffix(key, "/") {
				key += "/"
			}
			c.Npm.Tokens[key] = v
		}
	}
	return nil
}

// readPipConf returns index-url from the [global] (or [install]) section.
func readPipConf(name string) (string, bool, error) {
	b, err := os.ReadFile(name)
	if os.IsNotExist(err) {
		return "", false, nil
	} else if err != nil {
		return "", false, fmt.Errorf("pip config %s: %w", name, err)
	}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.ToLower(strings.Trim(line, "[]"))
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			k, v, ok = strings.Cut(line, ":")
		}
		if ok && (section == "global" || section == "install") && strings.TrimSpace(k) == "index-url" {
			return strings.TrimSpace(v), true, nil
		}
	}
	return "", false, nil
}

type mavenSettings struct {
	Mirrors []struct {
		ID       string `xml:"id"`
		URL      string `xml:"url"`
		MirrorOf string `xml:"mirrorOf"`
	} `xml:"mirrors>mirror"`
	Servers []struct {
		ID       string `xml:"id"`
		Username string `xml:"username"`
		Password string `xml:"password"`
	} `xml:"servers>server"`
}

var mavenEnvRef = regexp.MustCompile(`\$\{env\.([A-Za-z_][A-Za-z0-9_]*)\}`)

func (c *Config) readMavenSettings(name string, getenv func(string) string) error {
	b, err := os.ReadFile(name)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return fmt.Errorf("maven settings %s: %w", name, err)
	}
	var s mavenSettings
	if err := xml.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("maven settings %s: %w", name, err)
	}
	c.Files = append(c.Files, name)
	expand := func(v string) string {
		return mavenEnvRef.ReplaceAllStringFunc(strings.TrimSpace(v), func(m string) string { return getenv(m[6 : len(m)-1]) })
	}
	for _, m := range s.Mirrors {
		for _, of := range strings.Split(m.MirrorOf, ",") {
			of = strings.TrimSpace(of)
			if of != "*" && of != "external:*" && of != "central" {
				continue
			}
			c.Maven.Base = expand(m.URL)
			for _, srv := range s.Servers {
				if srv.ID == m.ID {
					c.Maven.User, c.Maven.Password = expand(srv.Username), expand(srv.Password)
				}
			}
			return nil
		}
	}
	return nil
}

// readGoEnv reads the go command's environment file (`go env -w`).
func (c *Config) readGoEnv(getenv func(string) string, home string) map[string]string {
	name := getenv("GOENV")
	if name == "off" {
		return nil
	}
	if name == "" {
		dir := getenv("XDG_CONFIG_HOME")
		if dir == "" && home != "" {
			dir = filepath.Join(home, ".config")
		}
		if dir == "" {
			return nil
		}
		name = filepath.Join(dir, "go", "env")
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil
	}
	c.Files = append(c.Files, name)
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}
