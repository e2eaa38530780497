package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"

	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/report"
	"github.com/shipshape-dev/shipshape/internal/scan"
	"github.com/shipshape-dev/shipshape/internal/trust"
)

// signFlags are the flags sign and attest share.
type signFlags struct {
	key        string
	legacyTags bool
	insecure   bool
	platform   string
	cacheDir   string
	timeout    time.Duration
}

func (f *signFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.key, "key", "", "cosign private key (cosign generate-key-pair's cosign.key); its passphrase is read from "+trust.PasswordEnv)
	fs.BoolVar(&f.legacyTags, "legacy-tags", false, "write cosign's legacy sha256-<hex>.sig/.att tags instead of a Sigstore bundle referrer (for verifiers older than cosign v3)")
	fs.BoolVar(&f.insecure, "insecure", false, "allow plain-HTTP and unverified-TLS registries")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Minute, "give up after this long")
	_ = cmd.MarkFlagRequired("key")
}

const keylessNote = `Only key-based signing is supported: keyless signing needs online Fulcio
and Rekor and is out of scope (use cosign sign for it; shipshape verify checks
keyless signatures offline).`

func (a *app) signCommand() *cobra.Command {
	var f signFlags
	cmd := &cobra.Command{
		Use:   "sign IMAGE",
		Short: "Sign a registry image's manifest digest with a cosign key (practice P6)",
		Long: `Sign the digest IMAGE names (a tag is resolved once, and the digest is what
is signed) the way cosign v3 sign --key does: an in-toto statement of the
cosign sign predicate in a DSSE envelope, in a Sigstore bundle attached
through the OCI referrers API, or its sha256-<hex> tag schema on registries
without it. cosign verify --key accepts it. --legacy-tags writes cosign's
older sha256-<hex>.sig signature instead.

The key is a cosign private key (ENCRYPTED SIGSTORE PRIVATE KEY); its
passphrase comes from ` + trust.PasswordEnv + `, as with cosign.

` + keylessNote,
		Example: `  COSIGN_PASSWORD=… shipshape sign --key cosign.key registry.example.com/app:1.2
  shipshape verify --key cosign.pub registry.example.com/app:1.2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runSign(cmd.Context(), args[0], &f, nil)
		},
	}
	f.register(cmd)
	return cmd
}

// ScorecardPredicateType is the in-toto predicate type of an attested
// shipshape scorecard (the JSON report).
const ScorecardPredicateType = "https://github.com/shipshape-dev/shipshape/scorecard/v1"

type attestFlags struct {
	sbom          bool
	scorecard     bool
	predicate     string
	predicateType string
}

func (a *app) attestCommand() *cobra.Command {
	var f signFlags
	var af attestFlags
	cmd := &cobra.Command{
		Use:   "attest IMAGE",
		Short: "Attach a signed in-toto attestation (the image's CycloneDX SBOM or scorecard, or a predicate file) to a registry image",
		Long: `Sign an in-toto attestation for the image's manifest digest with a cosign
key and attach it as cosign v3 attest --key does (a Sigstore bundle
referrer; --legacy-tags for the sha256-<hex>.att tag). cosign
verify-attestation --key accepts it.

--sbom scans the image (the platform --platform picks from a multi-platform
image) and attests its CycloneDX SBOM to that platform's manifest digest;
--scorecard attests the JSON report of a full scan (every practice but P6,
which would judge its own attestation) the same way.
--predicate FILE --type URI attests any JSON predicate to the digest IMAGE
names.

` + keylessNote,
		Example: `  COSIGN_PASSWORD=… shipshape attest --key cosign.key --sbom registry.example.com/app:1.2
  shipshape attest --key cosign.key --predicate vex.json --type https://openvex.dev/ns/v0.2.0 registry.example.com/app:1.2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n := 0
			for _, b := range []bool{af.sbom, af.scorecard, af.predicate != ""} {
				if b {
					n++
				}
			}
			if n != 1 {
				return fmt.Errorf("give one of --sbom, --scorecard, or --predicate FILE --type URI")
			}
			if af.predicate != "" && af.predicateType == "" {
				return fmt.Errorf("--predicate needs --type (the predicate type URI)")
			}
			return a.runSign(cmd.Context(), args[0], &f, &af)
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&af.sbom, "sbom", false, "attest the image's CycloneDX SBOM (predicate type https://cyclonedx.org/bom)")
	cmd.Flags().BoolVar(&af.scorecard, "scorecard", false, "attest the image's shipshape scorecard, the JSON report of a full scan without P6 (predicate type "+ScorecardPredicateType+")")
	cmd.Flags().StringVar(&af.predicate, "predicate", "", "JSON predicate file to attest")
	cmd.Flags().StringVar(&af.predicateType, "type", "", "predicate type URI of --predicate")
	cmd.Flags().StringVar(&f.cacheDir, "cache-dir", "", "with --sbom: directory for cached layer results (default: the user cache directory)/shipshape")
	cmd.Flags().StringVar(&f.platform, "platform", "", "with --sbom: platform to pick from a multi-platform image, OS/ARCH[/VARIANT] (default: the host's)")
	return cmd
}

// registryRef accepts registry references only: docker://NAME, or a bare
// NAME.
func registryRef(ref string, insecure bool) (name.Reference, error) {
	r, err := image.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	if r.Transport != "" && r.Transport != image.Registry {
		return nil, fmt.Errorf("%s: signatures live in a registry next to the image; push it and sign the registry reference", ref)
	}
	return name.ParseReference(r.Name, image.NameOptions(insecure)...)
}

func (a *app) runSign(ctx context.Context, ref string, f *signFlags, af *attestFlags) error {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	key, err := trust.LoadPrivateKey(f.key, []byte(os.Getenv(trust.PasswordEnv)))
	if err != nil {
		return err
	}
	r, err := registryRef(ref, f.insecure)
	if err != nil {
		return err
	}
	ropts := image.RemoteOptions(ctx, image.Options{Insecure: f.insecure})
	opts := trust.SignOptions{Key: key, LegacyTags: f.legacyTags, Remote: ropts}
	var w *trust.Written
	switch {
	case af == nil:
		d, err := resolveDigest(r, ropts)
		if err != nil {
			return err
		}
		w, err = trust.Sign(ctx, d, opts)
		if err != nil {
			return err
		}
	case af.sbom || af.scorecard:
		w, err = a.attestScan(ctx, ref, f, af.scorecard, opts)
		if err != nil {
			return err
		}
	default:
		b, err := os.ReadFile(af.predicate)
		if err != nil {
			return fmt.Errorf("--predicate: %w", err)
		}
		if !json.Valid(b) {
			return fmt.Errorf("--predicate %s: not JSON", af.predicate)
		}
		d, err := resolveDigest(r, ropts)
		if err != nil {
			return err
		}
		w, err = trust.Attest(ctx, d, af.predicateType, b, opts)
		if err != nil {
			return err
		}
	}
	what := "signed"
	if af != nil {
		what = "attested"
	}
	fmt.Fprintf(a.stdout, "%s %s@%s: %s %s\n", what, r.Context().Name(), w.Subject, w.Where, w.Manifest)
	return nil
}

// resolveDigest names the digest r points to now: what gets signed.
func resolveDigest(r name.Reference, ropts []remote.Option) (name.Digest, error) {
	if d, ok := r.(name.Digest); ok {
		return d, nil
	}
	desc, err := remote.Head(r, ropts...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("registry %s: %w", r, err)
	}
	return r.Context().Digest(desc.Digest.String()), nil
}

// attestScan scans the image and attests its CycloneDX SBOM (or its
// scorecard) to the manifest digest that was scanned.
func (a *app) attestScan(ctx context.Context, ref string, f *signFlags, scorecard bool, opts trust.SignOptions) (*trust.Written, error) {
	if err := image.ParsePlatform(f.platform); err != nil {
		return nil, err
	}
	analyzers := []string{scan.Inventory}
	if scorecard {
		analyzers = nil
		for _, n := range scan.All {
			if n != scan.Trust {
				analyzers = append(analyzers, n)
			}
		}
	}
	var pol *policy.Policy
	if scorecard {
		// The scorecard is judged by the policy in the working directory.
		var err error
		if pol, err = loadPolicy(""); err != nil {
			return nil, err
		}
	}
	s, err := a.scanner(scan.Options{Platform: f.platform, Insecure: f.insecure, CacheDir: f.cacheDir, Analyzers: analyzers, Policy: pol, ToolVersion: Version})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	r, err := image.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	if r.Transport == "" {
		ref = "docker://" + ref
	}
	o, err := s.Open(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	if o.Image.Registry == nil {
		return nil, fmt.Errorf("%s is not a registry image", ref)
	}
	rep, err := s.ScanImage(ctx, o, nil)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	pt := "https://cyclonedx.org/bom"
	if scorecard {
		pt = ScorecardPredicateType
		err = report.ScanFormats.Write(&buf, "json", rep, report.Options{})
	} else {
		err = report.SBOMFormats.Write(&buf, "cyclonedx", rep, report.Options{})
	}
	if err != nil {
		return nil, err
	}
	d := o.Image.Registry.Ref.Context().Digest(o.Image.Digest.String())
	return trust.Attest(ctx, d, pt, buf.Bytes(), opts)
}
