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
    RdapBootstrap
             Refresh the IANA RDAP bootstrap registries (ipv4.json, ipv6.json) shipped in
             src/Omr.Engine/Discovery/Rdap/ from https://data.iana.org/rdap/ (checked: RFC 7484
             services, publication no older than the shipped one); needs Internet access, so it is a
             maintainer's task, not part of Build (tools/Update-RdapBootstrap.ps1).
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
    [ValidateSet('Build', 'Test', 'Demo', 'Bench', 'Package', 'Clean', 'RdapBootstrap')]
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

. (Join-Path $PSScriptRoot 'tools/Common.ps1')   # Set-StrictMode, the out/ paths, the helpers the tools share
$Tools = Join-Path $Root 'tools'
# Demo and Bench run in a fresh pwsh, given the built module and lab.
$Instrument = @('-ModulePath', (Join-Path $ModuleOut 'Omr.psd1'), '-LabPath', (Join-Path $LabOut 'Omr.Lab.dll'))

function Invoke-Build { & (Join-Path $Tools 'Build-Module.ps1') -Configuration $Configuration }

$exitCode = 0
try {
    switch ($Task) {
        'Build' { Invoke-Build }
        'Test' {
            if (-not $NoBuild) { Invoke-Build }
            $exitCode = & (Join-Path $Tools 'Invoke-Tests.ps1') -Configuration $Configuration -Suite $Suite `
                -Tag $Tag -ExcludeTag $ExcludeTag -FullName $FullName -XunitFilter $XunitFilter
        }
        'Demo' {
            if (-not $NoBuild) { Invoke-Build }
            $exitCode = Invoke-PwshScript (Join-Path $Tools 'Demo.ps1') $Instrument
        }
        'Bench' {
            if (-not (Get-Command nmap -CommandType Application -ErrorAction SilentlyContinue)) {
                throw 'Bench needs nmap, which is not installed: sudo apt-get install -y nmap (tests/lab/install-peers.sh installs it too).'
            }
            if (-not $NoBuild) { Invoke-Build }
            Write-Step 'Bench: Omr against nmap on the latency fleet (tools/Bench.ps1)'
            # Only the options given here; tools/Bench.ps1 holds their defaults.
            $options = @('-FleetPath', (Join-Path $FleetOut 'Omr.Fleet.dll'))
            foreach ($name in 'Hosts', 'LatencyMs', 'Mix', 'ThrottleLimit', 'Repeat', 'SharedDomains', 'PipeliningShare') {
                if ($PSBoundParameters.ContainsKey($name)) { $options += @("-$name", "$($PSBoundParameters[$name])") }
            }
            if ($Quick) { $options += '-Quick' }
            $exitCode = Invoke-PwshScript (Join-Path $Tools 'Bench.ps1') ($Instrument + $options)
        }
        'Package' {
            if (-not $NoBuild) { Invoke-Build }
            & (Join-Path $Tools 'Build-Package.ps1')
        }
        'RdapBootstrap' {
            Write-Step 'RdapBootstrap: IANA RDAP bootstrap registries (tools/Update-RdapBootstrap.ps1)'
            & (Join-Path $Tools 'Update-RdapBootstrap.ps1')
        }
        'Clean' {
            Write-Step 'Clean'
            Remove-Item -Recurse -Force -LiteralPath $Out -ErrorAction SilentlyContinue
            Get-ChildItem -LiteralPath (Join-Path $Root 'src'), $Tools, (Join-Path $Root 'tests') -Directory -Recurse -Include bin, obj -ErrorAction SilentlyContinue |
                Sort-Object { $_.FullName.Length } -Descending |
                Remove-Item -Recurse -Force -ErrorAction SilentlyContinue
        }
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
