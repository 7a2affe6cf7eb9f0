#Requires -Version 7.2
<#
.SYNOPSIS
Builds, tests, demonstrates and packages the Omr module.

.DESCRIPTION
Run from anywhere with the pinned PowerShell tool:

    dotnet tool restore && dotnet pwsh ./build.ps1 <Task> [-Configuration Release|Debug]

Tasks
    Build    Builds the solution and lays out the importable module in out/Omr/ (Omr.psd1,
             Omr.Init.psm1, Omr.dll, Omr.Format.ps1xml, en-US/ help, dependencies/) and the lab in
             out/lab/.
    Test     Build, then the xunit engine tests, then the Pester tests against the BUILT module in
             a fresh pwsh process (real Postfix/Dovecot peers started first when available).
             Prints one final line 'N passed, N failed[, N skipped]'; exit code 1 on any failure.
    Demo     Build, start the lab, run Test-OpenRelay against a set of lab domains, show the table.
    Bench    Build, start the latency fleet (out/fleet: N simulated SMTP servers, every reply one
             simulated round trip), run Test-OpenRelay and nmap's smtp-open-relay (default and
             tuned) against it, each in its own measured process: median wall, CPU, peak RSS,
             accuracy against the fleet's truth, ratios Omr/nmap, the physical limit; plus a
             shared-host domain scan (tools/Bench.ps1; JSON in out/bench/). Needs nmap
             (apt-get install -y nmap); a benchmark, not a test: it asserts no figure.
    Package  Build, then zip out/Omr into out/Omr-<version>.zip.
    Clean    Removes out/ and every bin/ and obj/ folder.

.PARAMETER Tag
Test: run only Pester tests with these tags.

.PARAMETER ExcludeTag
Test: skip Pester tests with these tags.

.PARAMETER FullName
Test: run only Pester tests whose full name matches one of these wildcard patterns.

.PARAMETER XunitFilter
Test: a 'dotnet test --filter' expression for the xunit tests.

.PARAMETER Suite
Test: All (default), Xunit or Pester.

.PARAMETER Hosts
Bench: number of fleet servers (default 1000; -Quick 50). Also -LatencyMs (default 50; -Quick 10),
-Mix (kind=weight,...: open closed trick greylist tarpit drop down or a trick name), -ThrottleLimit
(Omr's, default 1000), -Repeat (default 3; -Quick 1), -SharedDomains (default 200; -Quick 20).

.PARAMETER NoBuild
Test/Demo/Bench/Package: use what is already in out/ (and bin/) instead of building first.
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('Build', 'Test', 'Demo', 'Bench', 'Package', 'Clean')]
    [string] $Task = 'Build',

    [ValidateSet('Release', 'Debug')]
    [string] $Configuration = 'Release',

    [string[]] $Tag,
    [string[]] $ExcludeTag,
    [string[]] $FullName,
    [string] $XunitFilter,

    [ValidateSet('All', 'Xunit', 'Pester')]
    [string] $Suite = 'All',

    [switch] $NoBuild,

    # Bench (tools/Bench.ps1): fleet size, simulated round trip, server mix, Omr's throttle,
    # runs per tool, shared-host domains; -Quick = 1 run, 50 hosts, 10 ms.
    [ValidateRange(1, 60000)] [int] $Hosts,
    [ValidateRange(0, 10000)] [double] $LatencyMs,
    [string] $Mix,
    [ValidateRange(0, 1)] [double] $PipeliningShare,
    [ValidateRange(1, 100000)] [int] $ThrottleLimit,
    [ValidateRange(1, 15)] [int] $Repeat,
    [ValidateRange(0, 10000)] [int] $SharedDomains,
    [switch] $Quick
)

$BoundParameters = $PSBoundParameters
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$PSNativeCommandUseErrorActionPreference = $false

$Root = $PSScriptRoot
$Out = Join-Path $Root 'out'
$ModuleOut = Join-Path $Out 'Omr'
$LabOut = Join-Path $Out 'lab'
$FleetOut = Join-Path $Out 'fleet'
$TestResults = Join-Path $Out 'TestResults'
$DependencyFolder = 'dependencies'
# Platforms whose native SQLite library (e_sqlite3, for the -StatePath database) ships in dependencies/runtimes/<rid>/native.
$NativeRuntimes = @('win-x64', 'win-arm64', 'linux-x64', 'linux-arm64', 'linux-musl-x64', 'osx-arm64', 'osx-x64')
# Platforms Omr.Engine is also shipped compiled ahead of time for (dependencies/r2r/<rid>/, see src/Omr.ReadyToRun).
$ReadyToRunRuntimes = @('linux-x64')

# Assemblies PowerShell provides itself: never shipped in the module.
$PowerShellOwnAssemblies = @(
    'System.Management.Automation'
    'Microsoft.PowerShell.*'
    'Microsoft.Management.Infrastructure*'
)

function Write-Step([string] $Message) {
    Write-Host "==> $Message" -ForegroundColor Cyan
}

function Invoke-Native {
    # Runs a native command, echoing it; throws on a non-zero exit unless -AllowFailure.
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $ArgumentList = @(),
        [switch] $AllowFailure
    )
    Write-Host "   $FilePath $($ArgumentList -join ' ')" -ForegroundColor DarkGray
    & $FilePath @ArgumentList | Out-Host
    $code = $LASTEXITCODE
    if ($code -ne 0 -and -not $AllowFailure) {
        throw "'$FilePath $($ArgumentList -join ' ')' failed with exit code $code."
    }
    $code
}

function Get-ModuleVersion {
    (Import-PowerShellDataFile -LiteralPath (Join-Path $Root 'Omr.psd1')).ModuleVersion
}

function Assert-VersionConsistent {
    $props = [xml](Get-Content -Raw -LiteralPath (Join-Path $Root 'Directory.Build.props'))
    $assemblyVersion = @($props.Project.PropertyGroup | ForEach-Object {
            if ($_.PSObject.Properties['Version']) { $_.Version }
        }) | Select-Object -First 1
    $moduleVersion = Get-ModuleVersion
    if ($assemblyVersion -and $assemblyVersion -ne $moduleVersion) {
        throw "Omr.psd1 ModuleVersion '$moduleVersion' differs from Directory.Build.props Version '$assemblyVersion'."
    }
}

function Invoke-Build {
    Write-Step "Build ($Configuration)"
    Assert-VersionConsistent
    Push-Location $Root
    try {
        Invoke-Native dotnet 'build', 'Omr.sln', '-c', $Configuration, '-nologo', '-clp:NoSummary', '-v', 'q' | Out-Null

        $stage = Join-Path $Out 'obj'
        Remove-Item -Recurse -Force -LiteralPath $stage -ErrorAction SilentlyContinue
        $omrStage = Join-Path $stage 'Omr'
        $loaderStage = Join-Path $stage 'Omr.Loader'
        Invoke-Native dotnet 'publish', 'src/Omr/Omr.csproj', '-c', $Configuration, '--no-build', '-nologo', '-v', 'q', '-o', $omrStage | Out-Null
        Invoke-Native dotnet 'publish', 'src/Omr.Loader/Omr.Loader.csproj', '-c', $Configuration, '--no-build', '-nologo', '-v', 'q', '-o', $loaderStage | Out-Null

        # The lab: dotnet out/lab/Omr.Lab.dll
        Remove-Item -Recurse -Force -LiteralPath $LabOut -ErrorAction SilentlyContinue
        Invoke-Native dotnet 'publish', 'src/Omr.Lab/Omr.Lab.csproj', '-c', $Configuration, '--no-build', '-nologo', '-v', 'q', '-o', $LabOut | Out-Null
        # The latency fleet for Bench: dotnet out/fleet/Omr.Fleet.dll
        Remove-Item -Recurse -Force -LiteralPath $FleetOut -ErrorAction SilentlyContinue
        Invoke-Native dotnet 'publish', 'src/Omr.Fleet/Omr.Fleet.csproj', '-c', $Configuration, '--no-build', '-nologo', '-v', 'q', '-o', $FleetOut | Out-Null

        # The module: out/Omr/{Omr.psd1, Omr.dll, Omr.Format.ps1xml, en-US/, dependencies/}
        Remove-Item -Recurse -Force -LiteralPath $ModuleOut -ErrorAction SilentlyContinue
        $deps = Join-Path $ModuleOut $DependencyFolder
        New-Item -ItemType Directory -Force -Path $deps | Out-Null

        Copy-Item -LiteralPath (Join-Path $Root 'Omr.psd1') -Destination $ModuleOut
        Copy-Item -LiteralPath (Join-Path $Root 'src/Omr/Loader/Omr.Init.psm1') -Destination $ModuleOut
        # Omr.Model (the output types) sits next to Omr.dll, in PowerShell's own load context,
        # so that type literals such as [Omr.RelayTestResult] resolve in scripts.
        foreach ($file in 'Omr.dll', 'Omr.pdb', 'Omr.Model.dll', 'Omr.Model.pdb') {
            $path = Join-Path $omrStage $file
            if (Test-Path -LiteralPath $path) { Copy-Item -LiteralPath $path -Destination $ModuleOut }
        }
        $srcOmr = Join-Path $Root 'src/Omr'
        $format = Join-Path $srcOmr 'Omr.Format.ps1xml'
        if (Test-Path -LiteralPath $format) { Copy-Item -LiteralPath $format -Destination $ModuleOut }
        Get-ChildItem -LiteralPath $srcOmr -Directory | Where-Object Name -Match '^[a-z]{2}-[A-Z]{2}$' | ForEach-Object {
            $help = Get-ChildItem -LiteralPath $_.FullName -File | Where-Object Extension -In '.xml', '.txt'
            if ($help) {
                $target = New-Item -ItemType Directory -Force -Path (Join-Path $ModuleOut $_.Name)
                $help | Copy-Item -Destination $target.FullName
            }
        }

        $isPowerShellOwn = {
            param($name)
            foreach ($pattern in $PowerShellOwnAssemblies) { if ($name -like "$pattern.dll") { return $true } }
            $false
        }
        Get-ChildItem -LiteralPath $omrStage -File | Where-Object {
            $_.Extension -in '.dll', '.pdb' -and $_.BaseName -notin 'Omr', 'Omr.Model' -and -not (& $isPowerShellOwn $_.Name)
        } | Copy-Item -Destination $deps
        Get-ChildItem -LiteralPath $loaderStage -File -Filter 'Omr.Loader.*' |
            Where-Object Extension -In '.dll', '.pdb' | Copy-Item -Destination $deps

        # The native SQLite library of the state database (Microsoft.Data.Sqlite via SQLitePCLRaw's
        # e_sqlite3) for every platform the module supports: dependencies/runtimes/<rid>/native/.
        # A netstandard2.0 publish does not lay these out, so they come from the restored package;
        # Omr.Loader's LoadUnmanagedDll (PowerShell 7) and ModuleInitializer (Windows PowerShell) load them.
        $assets = Get-Content -Raw -LiteralPath (Join-Path $Root 'src/Omr.Engine/obj/project.assets.json') | ConvertFrom-Json
        $sqliteLib = @($assets.libraries.PSObject.Properties.Name | Where-Object { $_ -like 'SQLitePCLRaw.lib.e_sqlite3/*' })[0]
        if (-not $sqliteLib) { throw 'Omr.Engine restores no SQLitePCLRaw.lib.e_sqlite3: the native SQLite library is missing.' }
        $sqliteRoot = Join-Path (Get-NuGetPackagesRoot) ($sqliteLib.ToLowerInvariant() -replace '/', [IO.Path]::DirectorySeparatorChar)
        foreach ($rid in $NativeRuntimes) {
            $from = Join-Path $sqliteRoot "runtimes/$rid/native"
            if (-not (Test-Path -LiteralPath $from)) { throw "$sqliteLib has no native library for $rid ($from)." }
            $to = New-Item -ItemType Directory -Force -Path (Join-Path $deps "runtimes/$rid/native")
            Get-ChildItem -LiteralPath $from -File | Copy-Item -Destination $to.FullName
        }

        # Omr.Engine compiled ahead of time (ReadyToRun) for .NET 10 on the platforms in
        # $ReadyToRunRuntimes: dependencies/r2r/<rid>/Omr.Engine.dll, the same IL and metadata plus
        # native code, so a scan starts without waiting for the JIT. Omr.Loader uses it only on
        # PowerShell 7 with .NET 10 or later on that platform, only when its PE header says code for
        # this platform and its MVID matches the IL copy's; Windows PowerShell and other platforms load
        # dependencies/Omr.Engine.dll.
        foreach ($rid in $ReadyToRunRuntimes) {
            $r2rStage = Join-Path $stage "r2r-$rid"
            Invoke-Native dotnet 'publish', 'src/Omr.ReadyToRun/Omr.ReadyToRun.csproj', '-c', $Configuration, '-r', $rid, '-nologo', '-v', 'q', '-o', $r2rStage | Out-Null
            $to = New-Item -ItemType Directory -Force -Path (Join-Path $deps "r2r/$rid")
            Copy-Item -LiteralPath (Join-Path $r2rStage 'Omr.Engine.dll') -Destination $to.FullName
        }

        # Invariants of the layout.
        $manifest = Import-PowerShellDataFile -LiteralPath (Join-Path $ModuleOut 'Omr.psd1')
        foreach ($required in @($manifest.RootModule) + @($manifest.NestedModules) + @($manifest.FormatsToProcess)) {
            if (-not (Test-Path -LiteralPath (Join-Path $ModuleOut $required))) {
                throw "The built module lacks '$required' named in Omr.psd1."
            }
        }
        foreach ($required in 'Omr.Engine.dll', 'Omr.Loader.dll') {
            if (-not (Test-Path -LiteralPath (Join-Path $deps $required))) { throw "out/Omr/$DependencyFolder lacks $required." }
        }
        $leaked = Get-ChildItem -LiteralPath $ModuleOut -Recurse -File | Where-Object { & $isPowerShellOwn $_.Name }
        if ($leaked) { throw "PowerShell's own assemblies must not ship: $($leaked.Name -join ', ')" }
        if (-not (Test-Path -LiteralPath (Join-Path $LabOut 'Omr.Lab.dll'))) { throw 'out/lab/Omr.Lab.dll was not produced.' }
        if (-not (Test-Path -LiteralPath (Join-Path $FleetOut 'Omr.Fleet.dll'))) { throw 'out/fleet/Omr.Fleet.dll was not produced.' }

        Remove-Item -Recurse -Force -LiteralPath $stage -ErrorAction SilentlyContinue
        Write-Host "   module: $ModuleOut ($((Get-ChildItem -LiteralPath $deps -Filter *.dll).Count) dependency assemblies)"
        Write-Host "   lab:    $(Join-Path $LabOut 'Omr.Lab.dll')"
        Write-Host "   fleet:  $(Join-Path $FleetOut 'Omr.Fleet.dll')"
    }
    finally {
        Pop-Location
    }
}

function Get-NuGetPackagesRoot {
    if ($env:NUGET_PACKAGES) { return $env:NUGET_PACKAGES }
    $line = & dotnet nuget locals global-packages --list 2>$null | Select-Object -First 1
    if ($line -match 'global-packages:\s*(.+)$') { return $Matches[1].Trim() }
    Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages'
}

function Get-PesterManifest {
    # Pester comes from NuGet (no PowerShell Gallery): tools/tools.csproj downloads the
    # version pinned in Directory.Packages.props into the global packages folder.
    $props = [xml](Get-Content -Raw -LiteralPath (Join-Path $Root 'Directory.Packages.props'))
    $version = @($props.Project.ItemGroup.PackageVersion | Where-Object Include -EQ 'Pester')[0].Version
    if (-not $version) { throw 'Directory.Packages.props has no PackageVersion for Pester.' }
    $psd1 = Join-Path (Get-NuGetPackagesRoot) "pester/$version/tools/Pester.psd1"
    # Also brings the collision fixtures (old DnsClient/MimeKit/MailKit) used by Module.Tests.ps1.
    Invoke-Native dotnet 'restore', (Join-Path $Root 'tools/tools.csproj'), '-nologo', '-v', 'q' | Out-Null
    if (-not (Test-Path -LiteralPath $psd1)) { throw "Pester $version not found at $psd1 after restore." }
    $psd1
}

function Read-TrxCounts([string] $Path) {
    $trx = [xml](Get-Content -Raw -LiteralPath $Path)
    $ns = @{ t = 'http://microsoft.com/schemas/VisualStudio/TeamTest/2010' }
    $counts = [ordered]@{ Passed = 0; Failed = 0; Skipped = 0 }
    foreach ($node in Select-Xml -Xml $trx -XPath '//t:Results/t:UnitTestResult' -Namespace $ns) {
        switch ($node.Node.outcome) {
            'Passed' { $counts.Passed++ }
            'NotExecuted' { $counts.Skipped++ }
            'Inconclusive' { $counts.Skipped++ }
            default { $counts.Failed++ }
        }
    }
    [pscustomobject]$counts
}

function Read-NUnitCounts([string] $Path) {
    # Pester's NUnit 2.5 report: one <test-case> per test; a failed container or block with no
    # test cases under it (a script that does not parse, a failing BeforeAll in discovery) is a
    # <test-suite result="Failure"> and counts as one failure.
    $xml = [xml](Get-Content -Raw -LiteralPath $Path)
    $counts = [ordered]@{ Passed = 0; Failed = 0; Skipped = 0 }
    foreach ($case in $xml.SelectNodes('//test-case')) {
        switch ($case.result) {
            'Success' { $counts.Passed++ }
            'Failure' { $counts.Failed++ }
            'Error' { $counts.Failed++ }
            default { if ($case.executed -eq 'True' -and $case.result -eq 'Failure') { $counts.Failed++ } else { $counts.Skipped++ } }
        }
    }
    foreach ($suite in $xml.SelectNodes('//test-suite[@result="Failure"]')) {
        if ($suite.SelectNodes('.//test-case').Count -eq 0) { $counts.Failed++ }
    }
    [pscustomobject]$counts
}

function Test-PeersAvailable {
    $script = Join-Path $Root 'tests/lab/peers.sh'
    if (-not (Test-Path -LiteralPath $script)) { return $false }
    [bool](Get-Command postfix -CommandType Application -ErrorAction SilentlyContinue) -or
    (Test-Path -LiteralPath '/usr/sbin/postfix')
}

function Install-Peers {
    # The real peers come from Debian's packages. On a fresh machine, as root, install them here,
    # so that the README's test command works with nothing but the .NET SDK; elsewhere say how.
    $script = Join-Path $Root 'tests/lab/install-peers.sh'
    if (-not (Test-Path -LiteralPath $script)) { return }
    $isRoot = $IsLinux -and ((& id -u 2>$null) -eq '0')
    if (-not $isRoot -or -not (Get-Command apt-get -CommandType Application -ErrorAction SilentlyContinue)) {
        Write-Warning 'Postfix/Dovecot are not installed: run tests/lab/install-peers.sh as root (Debian/Ubuntu), or set OMR_SKIP_PEERS=1 to skip the real-server tests.'
        return
    }
    Write-Step 'Installing the real peers (tests/lab/install-peers.sh: postfix, dovecot, swaks, nmap)'
    $log = Join-Path $TestResults 'install-peers.log'
    & bash $script *> $log
    if ($LASTEXITCODE -ne 0) {
        Write-Warning "tests/lab/install-peers.sh failed (exit $LASTEXITCODE); the real-server tests will fail. Log: $log"
        Get-Content -LiteralPath $log -Tail 20 -ErrorAction SilentlyContinue | ForEach-Object { Write-Host "   $_" }
    }
}

function Start-Peers {
    # Returns the JSON line printed by 'tests/lab/peers.sh start', or $null.
    $script = Join-Path $Root 'tests/lab/peers.sh'
    Write-Step 'Starting Postfix/Dovecot peers (tests/lab/peers.sh start)'
    $log = Join-Path $TestResults 'peers-start.log'
    $lines = & bash $script start 2>$log
    $code = $LASTEXITCODE
    $json = @($lines | Where-Object { $_ -match '^\s*\{' }) | Select-Object -Last 1
    if ($code -ne 0 -or -not $json) {
        Write-Warning "peers.sh start failed (exit $code); the Postfix tests will fail. Log: $log"
        Get-Content -LiteralPath $log -Tail 20 -ErrorAction SilentlyContinue | ForEach-Object { Write-Host "   $_" }
        return $null
    }
    Write-Host "   $json"
    $json
}

function Stop-Peers {
    $script = Join-Path $Root 'tests/lab/peers.sh'
    Write-Step 'Stopping peers (tests/lab/peers.sh stop)'
    & bash $script stop 2>&1 | ForEach-Object { Write-Host "   $_" }
}

function Invoke-ScriptAnalysis {
    $analyzer = Get-Module -ListAvailable PSScriptAnalyzer | Sort-Object Version -Descending | Select-Object -First 1
    if (-not $analyzer) {
        Write-Host '   PSScriptAnalyzer is not installed: script analysis skipped.'
        return
    }
    Import-Module $analyzer
    $paths = @(Join-Path $Root 'build.ps1') + @(Get-ChildItem -Path (Join-Path $Root 'tools'), (Join-Path $Root 'tests') -Recurse -Include *.ps1, *.psm1 | ForEach-Object FullName)
    $findings = @($paths | ForEach-Object { Invoke-ScriptAnalyzer -Path $_ -Severity Warning, Error })
    if ($findings.Count) {
        $findings | Format-Table -AutoSize RuleName, Severity, ScriptName, Line, Message | Out-String -Width 200 | Write-Host
    }
    Write-Host "   PSScriptAnalyzer $($analyzer.Version): $($findings.Count) finding(s)."
}

function Invoke-Test {
    New-Item -ItemType Directory -Force -Path $TestResults | Out-Null
    $total = [ordered]@{ Passed = 0; Failed = 0; Skipped = 0 }
    $add = { param($c) $total.Passed += $c.Passed; $total.Failed += $c.Failed; $total.Skipped += $c.Skipped }

    if ($Suite -in 'All', 'Xunit') {
        Write-Step 'xunit: tests/Omr.Engine.Tests'
        $trx = Join-Path $TestResults 'xunit.trx'
        Remove-Item -LiteralPath $trx -ErrorAction SilentlyContinue
        $arguments = @('test', (Join-Path $Root 'tests/Omr.Engine.Tests/Omr.Engine.Tests.csproj'), '-c', $Configuration,
            '--no-build', '-nologo', '--logger', 'trx;LogFileName=xunit.trx', '--logger', 'console;verbosity=normal',
            '--results-directory', $TestResults)
        if ($XunitFilter) { $arguments += '--filter', $XunitFilter }
        $code = Invoke-Native dotnet $arguments -AllowFailure
        if (Test-Path -LiteralPath $trx) {
            $counts = Read-TrxCounts $trx
            if ($code -ne 0 -and $counts.Failed -eq 0) { $counts.Failed = 1; Write-Warning "dotnet test exited $code with no failed test in the report." }
        }
        else {
            Write-Warning "dotnet test exited $code and wrote no report: counted as one failure."
            $counts = [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = 0 }
        }
        Write-Host "   xunit: $($counts.Passed) passed, $($counts.Failed) failed, $($counts.Skipped) skipped"
        & $add $counts
    }

    if ($Suite -in 'All', 'Pester') {
        Write-Step 'Script analysis'
        Invoke-ScriptAnalysis

        $pester = Get-PesterManifest
        $peersJson = $null
        $peersStarted = $false
        $saved = @{}
        foreach ($name in 'OMR_MODULE', 'OMR_LAB', 'OMR_PEERS', 'OMR_PEERS_ERROR', 'OMR_NUGET_PACKAGES') { $saved[$name] = [Environment]::GetEnvironmentVariable($name) }
        try {
            if ($env:OMR_SKIP_PEERS -eq '1') {
                # Skipped, not passed: the peer tests see no OMR_PEERS and skip. The peers use fixed
                # loopback addresses, so a run that skips them must not start (or stop) them either.
                Write-Step 'Real peers skipped (OMR_SKIP_PEERS=1): the Postfix/Dovecot/dnsmasq tests are skipped, not passed'
            }
            elseif (-not (Test-PeersAvailable)) { Install-Peers }
            if ($env:OMR_SKIP_PEERS -eq '1') { }
            elseif (Test-PeersAvailable) {
                $peersStarted = $true
                $peersJson = Start-Peers
                if (-not $peersJson) { $env:OMR_PEERS_ERROR = "tests/lab/peers.sh start failed: see $(Join-Path $TestResults 'peers-start.log')" }
            }
            elseif (-not (Test-Path -LiteralPath (Join-Path $Root 'tests/lab/peers.sh'))) {
                $env:OMR_PEERS_ERROR = 'tests/lab/peers.sh does not exist.'
            }
            else {
                $env:OMR_PEERS_ERROR = 'postfix is not installed (run tests/lab/install-peers.sh as root, or set OMR_SKIP_PEERS=1).'
            }
            $env:OMR_MODULE = Join-Path $ModuleOut 'Omr.psd1'
            $env:OMR_LAB = Join-Path $LabOut 'Omr.Lab.dll'
            $env:OMR_PEERS = $peersJson
            $env:OMR_NUGET_PACKAGES = Get-NuGetPackagesRoot

            Write-Step 'Pester: tests/*.Tests.ps1 against out/Omr in a fresh pwsh'
            $nunit = Join-Path $TestResults 'pester.xml'
            Remove-Item -LiteralPath $nunit, "$nunit.summary.json" -ErrorAction SilentlyContinue
            $arguments = @('pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $Root 'tools/PesterRunner.ps1'),
                '-PesterManifest', $pester, '-Path', (Join-Path $Root 'tests'), '-OutputFile', $nunit)
            if ($Tag) { $arguments += '-Tag', ($Tag -join ',') }
            if ($ExcludeTag) { $arguments += '-ExcludeTag', ($ExcludeTag -join ',') }
            if ($FullName) { $arguments += '-FullName', ($FullName -join ',') }
            Push-Location $Root
            try { $code = Invoke-Native dotnet $arguments -AllowFailure }
            finally { Pop-Location }

            if (Test-Path -LiteralPath $nunit) {
                $counts = Read-NUnitCounts $nunit
                $summaryFile = "$nunit.summary.json"
                if (Test-Path -LiteralPath $summaryFile) {
                    # Containers that failed before any test ran are not in the NUnit report.
                    $summary = Get-Content -Raw -LiteralPath $summaryFile | ConvertFrom-Json
                    $broken = @($summary.FailedContainerPaths)
                    if ($broken.Count -gt 0) {
                        Write-Warning "Pester: $($broken.Count) test file(s) failed before running any test: $($broken -join ', ')"
                        $counts.Failed += $broken.Count
                    }
                }
                if ($code -ne 0 -and $counts.Failed -eq 0) { $counts.Failed = 1; Write-Warning "The Pester process exited $code with no failed test in the report." }
            }
            else {
                Write-Warning "The Pester process exited $code and wrote no report: counted as one failure."
                $counts = [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = 0 }
            }
            Write-Host "   pester: $($counts.Passed) passed, $($counts.Failed) failed, $($counts.Skipped) skipped"
            & $add $counts
        }
        finally {
            if ($peersStarted) { Stop-Peers }
            foreach ($name in $saved.Keys) { [Environment]::SetEnvironmentVariable($name, $saved[$name]) }
        }
    }

    if ($total.Passed + $total.Failed -eq 0) {
        Write-Warning 'No test ran.'
    }
    $line = "$($total.Passed) passed, $($total.Failed) failed"
    if ($total.Skipped) { $line += ", $($total.Skipped) skipped" }
    Write-Host $line
    if ($total.Failed -gt 0 -or $total.Passed -eq 0) { return 1 }
    0
}

function Invoke-ToolScript([string] $Name, [string[]] $Extra = @()) {
    # tools/<Name>.ps1 in a fresh pwsh, given the built module and lab; returns its exit code.
    Push-Location $Root
    try {
        Invoke-Native dotnet (@('pwsh', '-NoProfile', '-NonInteractive', '-File', (Join-Path $Root "tools/$Name.ps1"),
                '-ModulePath', (Join-Path $ModuleOut 'Omr.psd1'), '-LabPath', (Join-Path $LabOut 'Omr.Lab.dll')) + $Extra) -AllowFailure
    }
    finally { Pop-Location }
}

function Invoke-Demo { Invoke-ToolScript 'Demo' }

function Invoke-Bench {
    Write-Step 'Bench: Omr against nmap on the latency fleet (tools/Bench.ps1)'
    $extra = @('-FleetPath', (Join-Path $FleetOut 'Omr.Fleet.dll'))
    foreach ($name in 'Hosts', 'LatencyMs', 'Mix', 'ThrottleLimit', 'Repeat', 'SharedDomains', 'PipeliningShare') {
        if ($BoundParameters.ContainsKey($name)) { $extra += @("-$name", "$($BoundParameters[$name])") }
    }
    if ($Quick) { $extra += '-Quick' }
    Invoke-ToolScript 'Bench' $extra
}

function Invoke-Package {
    $version = Get-ModuleVersion
    $zip = Join-Path $Out "Omr-$version.zip"
    Remove-Item -LiteralPath $zip -ErrorAction SilentlyContinue
    Write-Step "Package $zip"
    Compress-Archive -Path (Join-Path $ModuleOut '*') -DestinationPath $zip
    Write-Host "   $zip ($([math]::Round((Get-Item -LiteralPath $zip).Length / 1KB)) KiB)"

    # A NuGet package that PSResourceGet (shipped with PowerShell 7.4+) installs: publish to a
    # file repository under out/packages, registered only for this call.
    $feed = Join-Path $Out 'packages'
    New-Item -ItemType Directory -Force -Path $feed | Out-Null
    Get-ChildItem -LiteralPath $feed -Filter "Omr.$version.nupkg" | Remove-Item -Force
    $repoName = 'OmrBuild-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
    Register-PSResourceRepository -Name $repoName -Uri $feed -Trusted
    try {
        Publish-PSResource -Path $ModuleOut -Repository $repoName
    }
    finally {
        Unregister-PSResourceRepository -Name $repoName
    }
    $nupkg = Join-Path $feed "Omr.$version.nupkg"
    if (-not (Test-Path -LiteralPath $nupkg)) { throw "Publish-PSResource did not produce $nupkg." }
    Write-Host "   $nupkg (install: Register-PSResourceRepository -Name Omr -Uri $feed; Install-PSResource Omr -Repository Omr)"
}

function Invoke-Clean {
    Write-Step 'Clean'
    Remove-Item -Recurse -Force -LiteralPath $Out -ErrorAction SilentlyContinue
    Get-ChildItem -LiteralPath (Join-Path $Root 'src'), (Join-Path $Root 'tools'), (Join-Path $Root 'tests') -Directory -Recurse -Include bin, obj -ErrorAction SilentlyContinue |
        Sort-Object { $_.FullName.Length } -Descending |
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue
}

$exitCode = 0
try {
    switch ($Task) {
        'Build' { Invoke-Build }
        'Test' {
            if (-not $NoBuild) { Invoke-Build }
            $exitCode = Invoke-Test
        }
        'Demo' {
            if (-not $NoBuild) { Invoke-Build }
            $exitCode = Invoke-Demo
        }
        'Bench' {
            if (-not (Get-Command nmap -CommandType Application -ErrorAction SilentlyContinue)) {
                throw 'Bench needs nmap, which is not installed: sudo apt-get install -y nmap (tests/lab/install-peers.sh installs it too).'
            }
            if (-not $NoBuild) { Invoke-Build }
            $exitCode = Invoke-Bench
        }
        'Package' {
            if (-not $NoBuild) { Invoke-Build }
            Invoke-Package
        }
        'Clean' { Invoke-Clean }
    }
}
catch {
    Write-Host "build.ps1 ${Task}: $($_.Exception.Message)" -ForegroundColor Red
    Write-Host $_.ScriptStackTrace -ForegroundColor DarkGray
    if ($Task -eq 'Test') {
        # Keep the contract: the last line is the count line.
        Write-Host '0 passed, 1 failed'
    }
    $exitCode = 1
}
exit $exitCode
