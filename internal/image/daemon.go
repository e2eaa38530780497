package image

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/client"
)

// openDaemon exports an image from the Docker Engine ("docker save") into
// a temporary file and reads it as a docker-save archive. The Engine API
// version is negotiated, so old and new engines both work.
func openDaemon(ctx context.Context, ref string, opts Options) (*Image, error) {
	copts := []client.Opt{client.FromEnv}
	if opts.DockerHost != "" {
		copts = append(copts, client.WithHost(opts.DockerHost))
	}
	cli, err := client.New(copts...)
	if err != nil {
		return nil, fmt.Errorf("docker daemon: %w", err)
	}
	defer cli.Close()
	insp, err := cli.ImageInspect(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("docker daemon: image %s: %w", ref, err)
	}
	start := time.Now()
	rc, err := cli.ImageSave(ctx, []string{insp.ID})
	if err != nil {
		return nil, fmt.Errorf("docker daemon: save %s: %w", ref, err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(opts.TempDir, "shipshape-daemon-*.tar")
	if err != nil {
		return nil, fmt.Errorf("docker daemon: %w", err)
	}
	remove := func() error { return os.Remove(tmp.Name()) }
	n, err := io.Copy(tmp, io.LimitReader(rc, opts.MaxArchiveBytes+1))
	if err == nil && n > opts.MaxArchiveBytes {
		err = fmt.Errorf("export is larger than %d bytes (raise --max-archive-bytes)", opts.MaxArchiveBytes)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		remove()
		return nil, fmt.Errorf("docker daemon: save %s: %w", ref, err)
	}
	opts.log().Debug("image exported from the Docker Engine", "ref", ref, "id", insp.ID, "bytes", n, "took", time.Since(start))
	img, err := openArchiveFile(ctx, tmp.Name(), "", DockerArchive, opts)
	if err != nil {
		remove()
		return nil, fmt.Errorf("docker daemon: %s: %w", ref, err)
	}
	img.closers = append(img.closers, remove)
	img.Transport = Daemon
	img.RepoTags = insp.RepoTags
	img.RepoDigests = insp.RepoDigests
	if len(insp.RepoDigests) > 0 {
		if h, ok := repoDigest(insp.RepoDigests[0]); ok {
			img.Digest = h
		}
	}
	return img, nil
}

// repoDigest extracts the digest from "name@sha256:…".
func repoDigest(s string) (v1.Hash, bool) {
	i := strings.LastIndex(s, "@")
	if i < 0 {
		return v1.Hash{}, false
	}
	h, err := v1.NewHash(s[i+1:])
	return h, err == nil
}
