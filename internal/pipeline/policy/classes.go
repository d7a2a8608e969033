package policy

// Classes are the kinds of file a proposal may not touch unless the
// config lifts the class by name (policy.allow_classes). Patterns are
// doublestar globs matched against the lower-cased repository path; most
// start with **/ so that a file counts at any depth.
var Classes = map[string][]string{
	// CI and pipeline definitions of every common system, and the
	// actions and hooks they run.
	"ci": {
		"**/.github/**", "**/.gitlab-ci.yml", "**/.gitlab-ci.yaml", "**/.gitlab/**", "**/.circleci/**", "**/.buildkite/**",
		"**/jenkinsfile", "**/jenkinsfile.*", "**/*.jenkinsfile", "**/.travis.yml", "**/azure-pipelines.yml", "**/azure-pipelines.yaml",
		"**/.azure-pipelines/**", "**/.azuredevops/**", "**/cloudbuild.*", "**/cloudbuild-*.*", "**/*.cloudbuild.*",
		"**/bitbucket-pipelines.yml", "**/.drone.yml", "**/.drone.yaml", "**/.drone.jsonnet", "**/.drone.star", "**/buildspec.yml",
		"**/buildspec.yaml", "**/buildspec-*.yml", "**/.tekton/**", "**/tekton/**", "**/action.yml", "**/action.yaml",
		"**/.ci/**", "**/.pre-commit-config.yaml", "**/.pre-commit-hooks.yaml", "**/appveyor.yml", "**/.appveyor.yml",
		"**/.woodpecker.yml", "**/.woodpecker/**", "**/codefresh.yml", "**/.semaphore/**", "**/.harness/**", "**/wercker.yml",
		"**/.cirrus.yml", "**/.cirrus.star", "**/skaffold.yaml", "**/.goreleaser.yml", "**/.goreleaser.yaml", "**/renovate.json",
		"**/.renovaterc*", "**/dependabot.yml", "**/.releaserc*", "**/argo/**", "**/argocd/**", "**/.argocd/**", "**/argo-workflows/**", "**/spinnaker/**",
		"**/concourse/**", "**/.concourse/**", "**/pipeline.yml", "**/pipeline.yaml", "**/.teamcity/**", "**/bamboo-specs/**",
		"**/ci/**",
	},
	// Build definitions and build scripts: they run on every machine
	// that builds the repository.
	"build": {
		"**/makefile", "**/gnumakefile", "**/*.mk", "**/*.mak", "**/cmakelists.txt", "**/*.cmake", "**/build.gradle", "**/build.gradle.kts",
		"**/settings.gradle", "**/settings.gradle.kts", "**/gradle.properties", "**/gradle/**", "**/gradlew", "**/gradlew.bat", "**/*.gradle",
		"**/*.kts", "**/pom.xml", "**/build.xml", "**/ivy.xml", "**/.mvn/**", "**/mvnw", "**/mvnw.cmd", "**/build", "**/build.bazel",
		"**/workspace", "**/workspace.bazel", "**/module.bazel", "**/*.bzl", "**/.bazelrc", "**/.bazelversion", "**/buck", "**/.buckconfig",
		"**/taskfile.yml", "**/taskfile.yaml", "**/taskfile.dist.yml", "**/justfile", "**/.justfile", "**/rakefile", "**/*.rake",
		"**/magefile.go", "**/mage.go", "**/build.rs", "**/setup.py", "**/setup.cfg", "**/pyproject.toml", "**/tox.ini", "**/noxfile.py",
		"**/pytest.ini", "**/meson.build", "**/meson_options.txt", "**/sconstruct", "**/sconscript", "**/*.csproj", "**/*.vbproj",
		"**/*.fsproj", "**/*.sln", "**/*.props", "**/*.targets", "**/nuget.config", "**/global.json", "**/configure", "**/configure.ac",
		"**/*.am", "**/*.in", "**/build.sh", "**/build.ps1", "**/*.sh", "**/*.bash", "**/*.zsh", "**/*.ps1", "**/*.psm1", "**/*.bat",
		"**/*.cmd", "**/webpack.config.*", "**/vite.config.*", "**/rollup.config.*", "**/babel.config.*", "**/.babelrc*",
		"**/gulpfile.*", "**/gruntfile.*", "**/jest.config.*", "**/vitest.config.*", "**/karma.conf.*", "**/tsconfig*.json",
		"**/.eslintrc*", "**/eslint.config.*", "**/.golangci.yml", "**/.golangci.yaml", "**/buf.yaml", "**/buf.gen.yaml",
		"**/generate.go", "**/gen.go", "**/tools.go", "**/conftest.py", "**/sitecustomize.py", "**/usercustomize.py", "**/*.pth",
	},
	// Package manifests and lockfiles: install scripts (postinstall),
	// dependency sources and versions.
	"manifest": {
		"**/package.json", "**/package-lock.json", "**/npm-shrinkwrap.json", "**/yarn.lock", "**/.yarnrc", "**/.yarnrc.yml",
		"**/.yarn/**", "**/pnpm-lock.yaml", "**/pnpm-workspace.yaml", "**/.pnpmfile.cjs", "**/bun.lockb", "**/bun.lock", "**/bunfig.toml",
		"**/deno.json", "**/deno.jsonc", "**/deno.lock", "**/requirements*.txt", "**/requirements/**", "**/constraints*.txt",
		"**/pipfile", "**/pipfile.lock", "**/poetry.lock", "**/uv.lock", "**/pdm.lock", "**/gemfile", "**/gemfile.lock", "**/*.gemspec",
		"**/composer.json", "**/composer.lock", "**/go.mod", "**/go.sum", "**/go.work", "**/go.work.sum", "**/cargo.toml",
		"**/cargo.lock", "**/.cargo/**", "**/mix.exs", "**/mix.lock", "**/rebar.config", "**/pubspec.yaml", "**/pubspec.lock",
		"**/podfile", "**/podfile.lock", "**/*.podspec", "**/cartfile", "**/package.swift", "**/packages.config",
		"**/paket.dependencies", "**/project.clj", "**/deps.edn", "**/build.sbt", "**/*.sbt", "**/.nvmrc", "**/.node-version",
		"**/.python-version", "**/.ruby-version", "**/.tool-versions", "**/.sdkmanrc", "**/rust-toolchain", "**/rust-toolchain.toml",
		"**/vendor/**", "**/node_modules/**", "**/third_party/**",
	},
	// Container and dev-environment definitions, editor tasks and the
	// shell environment: each runs code on someone's machine.
	"container": {
		"**/dockerfile", "**/dockerfile.*", "**/*.dockerfile", "**/containerfile", "**/containerfile.*", "**/docker-compose*.yml",
		"**/docker-compose*.yaml", "**/compose.yml", "**/compose.yaml", "**/compose.*.yml", "**/compose.*.yaml", "**/.dockerignore",
		"**/.devcontainer/**", "**/.devcontainer.json", "**/.vscode/**", "**/.idea/**", "**/.fleet/**", "**/.zed/**",
		"**/.envrc", "**/.gitpod.yml", "**/.gitpod.dockerfile", "**/vagrantfile", "**/*.nix", "**/flake.lock", "**/devbox.json",
		"**/.devbox/**", "**/tiltfile", "**/procfile", "**/.replit", "**/replit.nix", "**/.mise.toml", "**/mise.toml", "**/.rtx.toml",
	},
	// Infrastructure as code, cluster manifests, RBAC and IAM policy.
	"infra": {
		"**/*.tf", "**/*.tf.json", "**/*.tfvars", "**/*.tfvars.json", "**/*.tfstate", "**/*.tfstate.*", "**/.terraform/**",
		"**/.terraform.lock.hcl", "**/*.hcl", "**/*.nomad", "**/pulumi.*", "**/*.bicep", "**/*.bicepparam", "**/cdk.json",
		"**/serverless.yml", "**/serverless.yaml", "**/template.yaml", "**/template.yml", "**/samconfig.toml",
		"**/*cloudformation*", "**/*.cfn.*", "**/app.yaml", "**/app.yml", "**/cron.yaml", "**/dispatch.yaml", "**/queue.yaml",
		"**/iam/**", "**/*iam*.json", "**/*iam*.yaml", "**/*iam*.yml", "**/*policy*.json", "**/*policy*.yaml", "**/*policy*.yml", "**/*rbac*.yaml", "**/*rbac*.yml", "**/*rbac*.json", "**/*role*.yaml",
		"**/*role*.yml", "**/*role*.json", "**/*rolebinding*.y*ml", "**/*serviceaccount*.y*ml", "**/*service-account*.json", "**/*psp*.yaml",
		"**/*networkpolic*.y*ml", "**/chart.yaml", "**/values*.yaml", "**/values*.yml", "**/charts/**", "**/helm/**", "**/templates/*.yaml",
		"**/templates/*.yml", "**/kustomization.yaml", "**/kustomization.yml", "**/k8s/**", "**/kubernetes/**", "**/kube/**",
		"**/manifests/**", "**/deploy/**", "**/deployment/**", "**/deployments/**", "**/infra/**", "**/infrastructure/**",
		"**/terraform/**", "**/ansible/**", "**/playbooks/**", "**/*playbook*.y*ml", "**/.kube/**", "**/kubeconfig*",
		"**/*.kubeconfig", "**/openshift/**", "**/istio/**", "**/*.rego", "**/gatekeeper/**", "**/kyverno/**",
	},
	// Git metadata, hooks and the tools that install hooks.
	"git": {
		"**/.gitmodules", "**/.gitattributes", "**/.gitignore", "**/.gitconfig", "**/.githooks/**", "**/.husky/**", "**/.lefthook*",
		"**/lefthook.yml", "**/lefthook.yaml", "**/.lfsconfig", "**/.mailmap", "**/.git-blame-ignore-revs", "**/.hooks/**",
		"**/.overcommit.yml",
	},
	// Credentials, keys, certificates and the files tools read them from.
	"credentials": {
		"**/*.pem", "**/*.key", "**/*.p8", "**/*.p12", "**/*.pfx", "**/*.jks", "**/*.keystore", "**/*.truststore", "**/*.crt",
		"**/*.cer", "**/*.der", "**/*.csr", "**/*.asc", "**/*.gpg", "**/*.pgp", "**/*.kdbx", "**/*.ovpn", "**/id_rsa*", "**/id_dsa*",
		"**/id_ed25519*", "**/id_ecdsa*", "**/*.ppk", "**/authorized_keys", "**/known_hosts", "**/.env", "**/.env.*", "**/*.env",
		"**/.npmrc", "**/.pypirc", "**/.netrc", "**/_netrc", "**/.git-credentials", "**/.htpasswd", "**/htpasswd", "**/*credential*",
		"**/*secret*", "**/.aws/**", "**/.ssh/**", "**/.gnupg/**", "**/.docker/**",
		"**/.config/gcloud/**", "**/.azure/**", "**/.boto", "**/.s3cfg", "**/*.keytab", "**/sealed-secrets*", "**/.sops.yaml",
		"**/*.sops.*", "**/.vault-token", "**/.gem/credentials", "**/.m2/settings.xml", "**/settings.xml", "**/.gradle/**",
		"**/.terraformrc", "**/terraform.rc", "**/.pgpass", "**/.my.cnf",
	},
	// Who reviews and owns what.
	"ownership": {
		"**/codeowners", "**/owners", "**/owners_aliases", "**/maintainers", "**/.github/codeowners", "**/security.md",
		"**/security-insights.yml",
	},
}

// ClassNames lists the classes in a fixed order, for messages and docs.
var ClassNames = []string{"ci", "build", "manifest", "container", "infra", "git", "credentials", "ownership"}

// SourceExtensions are the source files of the languages the agent fixes;
// a diff may change these (and their tests) by default.
var SourceExtensions = []string{
	".go", ".py", ".java", ".kt", ".scala", ".groovy", ".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".rb", ".cs", ".fs", ".vb",
	".rs", ".php", ".swift", ".m", ".mm", ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".ex", ".exs", ".erl", ".hrl",
	".clj", ".cljs", ".dart", ".lua", ".pl", ".pm", ".r", ".jl", ".zig", ".vue", ".svelte", ".sql", ".proto", ".graphql",
}

// ConfigExtensions are plain configuration files a diff may change below
// the repository root (a service's own settings), when no class claims
// them; at the root they are the files build and CI tools read.
var ConfigExtensions = []string{".yaml", ".yml", ".json", ".toml", ".ini", ".properties", ".conf", ".cfg"}
