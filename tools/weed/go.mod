// Builds SeaweedFS (weed) from its module: its own go.mod has a replace directive, so
// `go install pkg@version` refuses it; as a dependency of this module, with the same replace, it builds.
module catga.dev/tools/weed

go 1.26.6

require github.com/seaweedfs/seaweedfs v0.0.0-20261109003541-7506e5f91cd6

replace github.com/tyler-smith/go-bip39 => github.com/cosmos/go-bip39 v1.0.0
