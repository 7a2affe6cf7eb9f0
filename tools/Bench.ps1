#Requires -Version 7.2

<#
.SYNOPSIS
The Bench task of build.ps1: Test-OpenRelay against nmap's smtp-open-relay script, side by side,
on a latency fleet (out/fleet/Omr.Fleet.dll) whose every reply costs a simulated round trip.

.DESCRIPTION
Not a test: it prints figures and ratios and asserts nothing about them. It fails (exit 1) only
when it cannot measure: nmap missing, the fleet not starting (it prints the fleet's reason, e.g.
too few file descriptors for -Hosts under RLIMIT_NOFILE), a run exiting non-zero.

The fleet (its own process): -Hosts SMTP servers on 127.<Net>.x.y, one port, every reply delayed by
-LatencyMs (a pipelined group that arrives in one read costs one round trip; the greeting one too);
a seeded -Mix of open, closed, trick (closed but for one address shape), greylist, drop and down
servers; two shared hosts (MX of -SharedDomains domains, at most -SharedLimit connections per
client, 421 beyond); a DNS server for the zone. It prints its TRUTH: per address the expected
verdict and the tests that should be accepted.

Against the same fleet, each in its own measured process (wall clock around the process; user+sys
CPU and peak RSS from /usr/bin/time -f, or /proc/<pid> polling without it), -Repeat times (median):
  omr            pwsh: Import-Module; Test-OpenRelay -ComputerName (Get-Content targets) -Port p
                 -ThrottleLimit T | ForEach-Object { write one line per result }   (full battery)
  omr-streamed   the same with the addresses streamed from the pipeline: Get-Content targets |
                 Test-OpenRelay ... (PowerShell then holds no array of 10,000 decorated lines)
  pwsh-baseline  pwsh: Import-Module only
  nmap-default   nmap -Pn -n -p p --script +smtp-open-relay --script-args ... -iL targets
  nmap-tuned     the same with -T4 --max-parallelism 1000 --min-hostgroup 1000
Then once: the shared-host run, Test-OpenRelay -Domain (the shared domains) -DnsServer fleetdns.

About nmap's script arguments: smtp-open-relay.from and .to are LOCAL PARTS that the script joins
with smtp-open-relay.domain (default nmap.scanme.org). Passing whole addresses
(from=omr-probe@example.org) makes it send MAIL FROM:<omr-probe@example.org@nmap.scanme.org>,
which no server takes. So the equivalent of Omr's default probe (omr-probe@example.org ->
relay-test@example.net) is from=omr-probe, to=relay-test, domain=example.net. And the script's
portrule only fires on ports 25/465/587 or a port already identified as SMTP; the fleet listens on
a random port, so the script is forced with '+smtp-open-relay' (instead of -sV, which would add
service detection to nmap's time).

The physical limit: ceil(N/C) * K * L, C = Omr's -ThrottleLimit, L the latency, K the round trips
Omr needs per address on a pipelining server, MEASURED by the fleet: the delayed writes (greeting
included, one per pipelined group) it made to the open/closed/trick servers that advertise
PIPELINING, divided by their number. The nominal K for the brief's engine is 5 (greeting, EHLO,
about 3 pipelined battery groups); QUIT's reply counts as one more when Omr waits for it.

The floor under Omr's wall in the same run: the fastest pwsh-baseline run (PowerShell's start and
Import-Module) plus ceil(K' / M) * L, K' the delayed writes the fleet made to one server without
PIPELINING (all its connections together: greetings, EHLOs, one per command, QUIT), M the connections
Test-OpenRelay opens to one address at once (-MaxConnectionsPerAddress, its default here). No run
can end sooner than its slowest server; nmap's wall divided by this floor is the best ratio the mix
allows. It is a strict bound, and a loose one when many addresses share a worker (10,000 addresses
at -ThrottleLimit 1000): then the run is bound by throughput, nearer the physical limit.

The table splits CPU into user and sys (kernel: on loopback it includes the fleet's TCP receive
path, which a remote server would pay for).

Provider scale (skipped with -SkipScale): the fleet's generator (dotnet out/fleet/Omr.Fleet.dll --state-db)
writes a state database of -ScaleDomains domains and -ScaleRuns nightly runs (cached under out/bench by its
parameters and the day, since the runs end today), then two measured pwsh children read it:
  report         Import-Module; Export-RelayReport -StatePath <db> -Path <file>   (target <= 10 s, <= 300 MiB)
  latest         Import-Module; Get-RelayHistory -StatePath <db> -Latest | Measure-Object   (target <= 2 s)
Wall, CPU and peak RSS are printed next to the targets; nothing asserts them. -Quick uses 300 domains x 10 runs.

Writes out/bench/bench-<timestamp>.json and out/bench/latest.json. The same script runs the pwsh
children (-Child Omr|Baseline|Domain|Report|Latest); that mode is internal.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [string] $LabPath,   # accepted for build.ps1's common call; unused
    [string] $FleetPath,
    [string] $OutputPath,
    [ValidateRange(1, 60000)] [int] $Hosts = 1000,
    [ValidateRange(0, 10000)] [double] $LatencyMs = 50,
    [string] $Mix,
    # Share of fleet servers that offer PIPELINING (the rest are answered one command at a time).
    [ValidateRange(0, 1)] [double] $PipeliningShare = 0.9,
    [ValidateRange(1, 100000)] [int] $ThrottleLimit = 1000,
    [ValidateRange(1, 15)] [int] $Repeat = 3,
    [int] $Seed = 1,
    [ValidateRange(0, 10000)] [int] $SharedDomains = 200,
    [ValidateRange(0, 10000)] [int] $SharedOpenDomains = 50,
    [ValidateRange(1, 1000)] [int] $SharedLimit = 10,
    [ValidateRange(1, 254)] [int] $Net = 77,
    [ValidateRange(10, 86400)] [int] $RunTimeoutSec = 1800,
    [switch] $SkipNmapDefault,
    # The provider-scale state database: domains and nightly runs (the report and Get-RelayHistory -Latest on it).
    [ValidateRange(1, 1000000)] [int] $ScaleDomains = 10000,
    [ValidateRange(1, 3650)] [int] $ScaleRuns = 90,
    [switch] $SkipScale,
    # 1 run, 50 hosts, 10 ms, 20 shared domains (5 open); a scale of 300 domains x 10 runs.
    [switch] $Quick,

    # Internal: the measured pwsh child.
    [ValidateSet('Omr', 'OmrStream', 'Baseline', 'Domain', 'Report', 'Latest')] [string] $Child,
    [string] $StatePath,
    [string] $TargetsFile,
    [string] $ResultFile,
    [string] $DnsServer,
    [int] $Port,
    [int] $MaxConnectionsPerAddress
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

# ------------------------------------------------------------------------------------------------
# Child mode: one measured pwsh process; results streamed to -ResultFile, one tab-separated line each.
# ------------------------------------------------------------------------------------------------
if ($Child) {
    Import-Module $ModulePath -ErrorAction Stop
    if ($Child -eq 'Baseline') { exit 0 }
    if ($Child -eq 'Report') {
        # Exit 3: this build has no Export-RelayReport (the figure is then missing, not failed).
        if (-not (Get-Command Export-RelayReport -ErrorAction SilentlyContinue)) { exit 3 }
        Export-RelayReport -StatePath $StatePath -Path $ResultFile
        exit 0
    }
    if ($Child -eq 'Latest') {
        $count = (Get-RelayHistory -StatePath $StatePath -Latest | Measure-Object).Count
        Set-Content -LiteralPath $ResultFile -Value $count
        exit 0
    }
    $writer = [IO.StreamWriter]::new($ResultFile)
    try {
        $params = @{ Port = $Port; ThrottleLimit = $ThrottleLimit; TimeoutSec = 60; ErrorAction = 'SilentlyContinue' }
        if ($Child -eq 'Omr') { $params.ComputerName = @(Get-Content -LiteralPath $TargetsFile) }
        elseif ($Child -eq 'Domain') {
            $params.Domain = @(Get-Content -LiteralPath $TargetsFile)
            $params.DnsServer = $DnsServer
            if ($MaxConnectionsPerAddress -gt 0 -and (Get-Command Test-OpenRelay).Parameters.ContainsKey('MaxConnectionsPerAddress')) {
                $params.MaxConnectionsPerAddress = $MaxConnectionsPerAddress
            }
        }
        if ($Child -eq 'OmrStream') {
            # The addresses streamed from the pipeline, one at a time (address literals bind to -Domain and are tested directly).
            Get-Content -LiteralPath $TargetsFile | Test-OpenRelay @params | ForEach-Object {
                $writer.WriteLine("$($_.Domain)`t$($_.Address)`t$($_.Verdict)`t$($_.ReasonCode)`t$($_.RelayedBy -join ',')")
            }
        }
        else {
            Test-OpenRelay @params | ForEach-Object {
                $writer.WriteLine("$($_.Domain)`t$($_.Address)`t$($_.Verdict)`t$($_.ReasonCode)`t$($_.RelayedBy -join ',')")
            }
        }
    }
    finally { $writer.Dispose() }
    exit 0
}

# ------------------------------------------------------------------------------------------------
# Bench mode.
# ------------------------------------------------------------------------------------------------
function Write-Step([string] $Message) { Write-Host "==> $Message" -ForegroundColor Cyan }

$nmap = Get-Command nmap -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
if (-not $nmap) {
    Write-Host 'Bench: nmap is not installed, and the benchmark compares Omr with it.' -ForegroundColor Red
    Write-Host '   Install it:  sudo apt-get install -y nmap     (tests/lab/install-peers.sh installs it too)' -ForegroundColor Red
    exit 1
}
$nmapPath = $nmap.Source
$nmapVersion = ((& $nmapPath --version 2>$null) | Select-Object -First 1) -replace '\s*\(.*$', ''

if ($Quick) {
    if (-not $PSBoundParameters.ContainsKey('Hosts')) { $Hosts = 50 }
    if (-not $PSBoundParameters.ContainsKey('LatencyMs')) { $LatencyMs = 10 }
    if (-not $PSBoundParameters.ContainsKey('Repeat')) { $Repeat = 1 }
    if (-not $PSBoundParameters.ContainsKey('SharedDomains')) { $SharedDomains = 20 }
    if (-not $PSBoundParameters.ContainsKey('SharedOpenDomains')) { $SharedOpenDomains = 5 }
    if (-not $PSBoundParameters.ContainsKey('ScaleDomains')) { $ScaleDomains = 300 }
    if (-not $PSBoundParameters.ContainsKey('ScaleRuns')) { $ScaleRuns = 10 }
}
$repoRoot = Split-Path -Parent $PSScriptRoot
$ModulePath = (Resolve-Path -LiteralPath $ModulePath).Path
if (-not $FleetPath) { $FleetPath = Join-Path (Split-Path -Parent (Split-Path -Parent $ModulePath)) 'fleet/Omr.Fleet.dll' }
if (-not (Test-Path -LiteralPath $FleetPath)) { Write-Host "Bench: the fleet is missing at $FleetPath (dotnet pwsh ./build.ps1 Build)." -ForegroundColor Red; exit 1 }
if (-not $OutputPath) { $OutputPath = Join-Path (Split-Path -Parent (Split-Path -Parent $ModulePath)) 'bench' }
New-Item -ItemType Directory -Force -Path $OutputPath | Out-Null
$OutputPath = (Resolve-Path -LiteralPath $OutputPath).Path
$stamp = [DateTime]::UtcNow.ToString('yyyyMMdd-HHmmss')
$work = Join-Path $OutputPath "run-$stamp"
New-Item -ItemType Directory -Force -Path $work | Out-Null

$timeTool = if (Test-Path -LiteralPath '/usr/bin/time') { '/usr/bin/time' } else { $null }
$pwshFile = [Environment]::ProcessPath
$pwshPrefix = @()
if ([IO.Path]::GetFileNameWithoutExtension($pwshFile) -eq 'dotnet') { $pwshPrefix = @([Environment]::GetCommandLineArgs()[0]) }
$pwshDisplay = if ($pwshPrefix) { 'dotnet pwsh' } else { 'pwsh' }
$clockTicks = 100.0   # USER_HZ for /proc/<pid>/stat

function Invoke-Measured {
    # One process: wall seconds (Stopwatch around it), user/sys CPU seconds, peak RSS KiB, exit code, output.
    param([Parameter(Mandatory)] [string] $FilePath, [string[]] $ArgumentList = @(), [int] $TimeoutSec = $RunTimeoutSec, [string] $StdOutFile)
    $psi = [System.Diagnostics.ProcessStartInfo]::new()
    $timeFile = $null
    if ($timeTool) {
        $timeFile = [IO.Path]::GetTempFileName()
        $psi.FileName = $timeTool
        foreach ($a in @('-f', 'OMRTIME %e %U %S %M', '-o', $timeFile, $FilePath) + $ArgumentList) { $psi.ArgumentList.Add($a) }
    }
    else {
        $psi.FileName = $FilePath
        foreach ($a in $ArgumentList) { $psi.ArgumentList.Add($a) }
    }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.RedirectStandardInput = $true
    $psi.WorkingDirectory = $repoRoot
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $process = [System.Diagnostics.Process]::Start($psi)
    try {
        $process.StandardInput.Close()
        $stdout = $process.StandardOutput.ReadToEndAsync()
        $stderr = $process.StandardError.ReadToEndAsync()
        $hwm = 0L; $ticks = 0L
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
        while (-not $process.WaitForExit(20)) {
            if (-not $timeTool) {
                try {
                    $st = [IO.File]::ReadAllText("/proc/$($process.Id)/stat")
                    $f = $st.Substring($st.LastIndexOf(')') + 2).Split(' ')
                    $ticks = [long]$f[11] + [long]$f[12] + [long]$f[13] + [long]$f[14]
                    $line = [IO.File]::ReadAllLines("/proc/$($process.Id)/status") | Where-Object { $_ -like 'VmHWM:*' } | Select-Object -First 1
                    if ($line -match '(\d+)\s*kB') { $hwm = [math]::Max($hwm, [long]$Matches[1]) }
                }
                catch { Write-Verbose "poll: $_" }
            }
            if ([DateTime]::UtcNow -gt $deadline) { $process.Kill($true); throw "'$FilePath' did not finish within $TimeoutSec s." }
        }
        $process.WaitForExit()
        $sw.Stop()
        $out = $stdout.GetAwaiter().GetResult()
        $err = $stderr.GetAwaiter().GetResult()
        $user = $ticks / $clockTicks; $sys = 0.0
        if ($timeFile) {
            $t = @(Get-Content -LiteralPath $timeFile | Where-Object { $_ -like 'OMRTIME *' }) | Select-Object -Last 1
            if ($t) { $p = $t.Split(' '); $user = [double]$p[2]; $sys = [double]$p[3]; $hwm = [long]$p[4] }
        }
        if ($StdOutFile) { Set-Content -LiteralPath $StdOutFile -Value $out }
        [pscustomobject]@{
            wallSec = $sw.Elapsed.TotalSeconds; userSec = $user; sysSec = $sys; cpuSec = $user + $sys
            peakRssKiB = $hwm; exitCode = $process.ExitCode; StdOut = $out; StdErr = $err
        }
    }
    finally {
        $process.Dispose()
        if ($timeFile) { Remove-Item -LiteralPath $timeFile -ErrorAction SilentlyContinue }
    }
}

function Get-DefaultMaxConnections {
    # The connections Test-OpenRelay opens to one address at once when -MaxConnectionsPerAddress is not
    # passed: the cmdlet's own default, read from a new instance; $null for a build without the parameter.
    Import-Module $ModulePath -ErrorAction Stop
    $command = Get-Command Test-OpenRelay -ErrorAction Stop
    if (-not $command.Parameters.ContainsKey('MaxConnectionsPerAddress')) { return $null }
    [Activator]::CreateInstance($command.ImplementingType).MaxConnectionsPerAddress
}

function Get-Median([double[]] $Values) {
    $sorted = @($Values | Sort-Object)
    $n = $sorted.Count
    if ($n -eq 0) { return [double]::NaN }
    if ($n % 2) { return $sorted[($n - 1) / 2] }
    ($sorted[$n / 2 - 1] + $sorted[$n / 2]) / 2
}

# --- the fleet ---------------------------------------------------------------------------------
function Start-Fleet([string[]] $Arguments) {
    $psi = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
    $psi.ArgumentList.Add($FleetPath)
    foreach ($a in $Arguments) { $psi.ArgumentList.Add($a) }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardInput = $true
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $p = [System.Diagnostics.Process]::Start($psi)
    $errTask = $p.StandardError.ReadToEndAsync()
    $read = $p.StandardOutput.ReadLineAsync()
    if (-not $read.Wait(120000) -or -not $read.Result) {
        # No manifest: the fleet said why on stderr (e.g. exit code 3, too few file descriptors for -Hosts).
        if (-not $p.WaitForExit(5000)) { try { $p.Kill($true) } catch { Write-Verbose "$_" } }
        $code = if ($p.HasExited) { " (exit code $($p.ExitCode))" } else { ' (no manifest within 120 s)' }
        Write-Host "Bench: the fleet did not start$code." -ForegroundColor Red
        foreach ($line in @($errTask.Result -split '\r?\n' | Where-Object { $_ })) { Write-Host "   $line" -ForegroundColor Red }
        return $null
    }
    $manifest = $read.Result | ConvertFrom-Json
    $manifest | Add-Member -NotePropertyName Process -NotePropertyValue $p
    $manifest | Add-Member -NotePropertyName StandardErrorTask -NotePropertyValue $errTask -PassThru
}

function Invoke-FleetCommand($Fleet, [string] $Command) {
    $Fleet.Process.StandardInput.WriteLine($Command)
    $Fleet.Process.StandardInput.Flush()
    $read = $Fleet.Process.StandardOutput.ReadLineAsync()
    if (-not $read.Wait(30000)) { throw "The fleet did not answer '$Command'." }
    $read.Result | ConvertFrom-Json
}

function Stop-Fleet($Fleet) {
    if (-not $Fleet) { return }
    try { $Fleet.Process.StandardInput.Close() } catch { Write-Verbose "$_" }
    if (-not $Fleet.Process.WaitForExit(15000)) { $Fleet.Process.Kill($true) }
}

# --- reading the tools' answers ----------------------------------------------------------------
function Read-OmrResults([string] $Path) {
    $map = @{}
    foreach ($line in [IO.File]::ReadLines($Path)) {
        $f = $line.Split("`t")
        if ($f.Count -lt 5) { continue }
        $map[$f[1]] = [pscustomobject]@{ domain = $f[0]; address = $f[1]; verdict = $f[2]; reason = $f[3]; accepted = @($f[4].Split(',', [StringSplitOptions]::RemoveEmptyEntries)) }
    }
    $map
}

function Read-NmapResults([string] $Text) {
    # One entry per 'Nmap scan report' block. Open: 'Server is an open relay'; Closed: "doesn't seem"
    # or "isn't an open relay" (e.g. ', authentication needed');
    # Unreachable: the port is not open; Inconclusive: the script ran into an error or did not run.
    $map = @{}
    $blocks = [regex]::Split($Text, '(?m)^(?=Nmap scan report for )') | Where-Object { $_ -like 'Nmap scan report for *' }
    foreach ($block in $blocks) {
        $address = ([regex]::Match($block, '^Nmap scan report for (\S+)')).Groups[1].Value
        $state = ([regex]::Match($block, '(?m)^\d+/tcp\s+(\S+)')).Groups[1].Value
        $script = [regex]::Match($block, '(?m)^\|[_ ]smtp-open-relay:\s*(.*?)\s*$')
        $line = if ($script.Success) { $script.Groups[1].Value } else { '' }
        $verdict = if ($line -match 'Server is an open relay') { 'Open' }
        elseif ($line -like "Server doesn't seem to be an open relay*" -or $line -like "Server isn't an open relay*") { 'Closed' }
        elseif ($state -and $state -ne 'open') { 'Unreachable' }
        else { 'Inconclusive' }
        $map[$address] = [pscustomobject]@{ address = $address; verdict = $verdict; state = $state; line = $line }
    }
    $map
}

function Get-Accuracy($Truth, [hashtable] $Reported) {
    $truthOpen = @($Truth | Where-Object expected -EQ 'Open').Count
    $found = 0; $false_ = 0; $agree = 0; $n = 0; $testsExact = 0; $testsChecked = 0
    foreach ($t in $Truth) {
        $r = $Reported[$t.address]
        if (-not $r) { continue }
        $n++
        if ($r.verdict -eq $t.expected) { $agree++ }
        if ($r.verdict -eq 'Open') { if ($t.expected -eq 'Open') { $found++ } else { $false_++ } }
        if ($t.expected -eq 'Open' -and $r.PSObject.Properties['accepted']) {
            $testsChecked++
            if ((@($r.accepted | Sort-Object) -join ',') -eq (@($t.accepted | Sort-Object) -join ',')) { $testsExact++ }
        }
    }
    [ordered]@{
        addresses = @($Truth).Count; reported = $n; truthOpen = $truthOpen; foundOpen = $found; missedOpen = $truthOpen - $found
        falseOpen = $false_; verdictAgreement = if ($n) { [math]::Round($agree / $n, 4) } else { 0.0 }; verdictsAgreeing = $agree
        acceptedTestsExact = if ($testsChecked) { $testsExact } else { $null }
    }
}

# --- the run -----------------------------------------------------------------------------------
$benchWatch = [System.Diagnostics.Stopwatch]::StartNew()
$load = Get-Content -LiteralPath '/proc/loadavg' -ErrorAction SilentlyContinue
$fleetArgs = @('--hosts', "$Hosts", '--latency-ms', "$LatencyMs", '--seed', "$Seed", '--net', "$Net", '--out-dir', $work,
    '--shared-domains', "$SharedDomains", '--shared-open-domains', "$SharedOpenDomains", '--shared-limit', "$SharedLimit")
if ($Mix) { $fleetArgs += @('--mix', $Mix) }
$fleetArgs += @('--pipelining', $PipeliningShare.ToString([Globalization.CultureInfo]::InvariantCulture))
# The probing connections the fleet serves at once, which it counts in its file descriptors: Omr's
# -ThrottleLimit workers, each with up to 2 connections to its address (-MaxConnectionsPerAddress's
# default); nmap-tuned's --max-parallelism 1000.
$fleetArgs += @('--clients', "$([math]::Max(2 * $ThrottleLimit, 1000))")
Write-Step "Fleet: dotnet $FleetPath $($fleetArgs -join ' ')"
$fleet = Start-Fleet $fleetArgs
if (-not $fleet) { exit 1 }
$results = [ordered]@{}
try {
    $port = [int]$fleet.port
    $truth = @($fleet.truth)
    $targets = Join-Path $work 'targets.txt'
    Write-Host "   $($fleet.hosts) servers, port $port, DNS $($fleet.dns), latency $($fleet.latencyMs) ms; kinds: $(($fleet.kinds.PSObject.Properties | ForEach-Object { "$($_.Name)=$($_.Value)" }) -join ' ')"
    Write-Host "   truth: $(($fleet.expectedCounts.PSObject.Properties | ForEach-Object { "$($_.Value) $($_.Name)" }) -join ', ')"
    Write-Host "   $nmapVersion; CPU/RSS: $(if ($timeTool) { "$timeTool -f '%e %U %S %M'" } else { '/proc/<pid> polling (apt-get install -y time for exact figures)' }); $([Environment]::ProcessorCount) CPUs; load before: $(if ($load) { ($load -split ' ')[0..2] -join ' ' } else { '?' })"

    $nmapBase = @('-Pn', '-n', '-p', "$port", '--script', '+smtp-open-relay',
        '--script-args', 'smtp-open-relay.from=omr-probe,smtp-open-relay.to=relay-test,smtp-open-relay.domain=example.net')
    $tools = [ordered]@{
        'omr'           = @{ kind = 'omr'; child = 'Omr'; command = "$pwshDisplay -NoProfile -File tools/Bench.ps1 -Child Omr   # Import-Module; Test-OpenRelay -ComputerName (Get-Content targets.txt) -Port $port -ThrottleLimit $ThrottleLimit -TimeoutSec 60 | ForEach-Object { one line per result }" }
        'omr-streamed'  = @{ kind = 'omr'; child = 'OmrStream'; command = "$pwshDisplay -NoProfile -File tools/Bench.ps1 -Child OmrStream   # Import-Module; Get-Content targets.txt | Test-OpenRelay -Port $port -ThrottleLimit $ThrottleLimit -TimeoutSec 60 | ForEach-Object { one line per result }" }
        'pwsh-baseline' = @{ kind = 'baseline'; command = "$pwshDisplay -NoProfile -File tools/Bench.ps1 -Child Baseline   # Import-Module only" }
        'nmap-default'  = @{ kind = 'nmap'; args = $nmapBase; command = "nmap $($nmapBase -join ' ') -iL targets.txt" }
        'nmap-tuned'    = @{ kind = 'nmap'; args = @('-T4', '--max-parallelism', '1000', '--min-hostgroup', '1000') + $nmapBase; command = "nmap -T4 --max-parallelism 1000 --min-hostgroup 1000 $($nmapBase -join ' ') -iL targets.txt" }
    }
    if ($SkipNmapDefault) { $tools.Remove('nmap-default') }
    foreach ($name in $tools.Keys) { $results[$name] = [System.Collections.Generic.List[object]]::new(); Write-Host "   $name : $($tools[$name].command)" -ForegroundColor DarkGray }
    $omrStats = [System.Collections.Generic.List[object]]::new()
    $lastAnswers = @{}

    for ($i = 1; $i -le $Repeat; $i++) {
        Write-Step "Run $i of $Repeat"
        foreach ($name in $tools.Keys) {
            $tool = $tools[$name]
            $null = Invoke-FleetCommand $fleet 'reset'
            switch ($tool.kind) {
                'omr' {
                    $rf = Join-Path $work "$name-$i.tsv"
                    $run = Invoke-Measured $pwshFile ($pwshPrefix + @('-NoProfile', '-NonInteractive', '-File', $PSCommandPath, '-ModulePath', $ModulePath,
                            '-Child', $tool.child, '-TargetsFile', $targets, '-ResultFile', $rf, '-Port', "$port", '-ThrottleLimit', "$ThrottleLimit"))
                    if ($run.exitCode -ne 0) { throw "The $name child exited $($run.exitCode): $($run.StdErr)" }
                    $answers = Read-OmrResults $rf
                    # K (the round trips per address) is read from the fleet after the main Omr run.
                    $stats = (Invoke-FleetCommand $fleet 'stats').stats
                    if ($name -eq 'omr') { $omrStats.Add($stats) }
                }
                'baseline' {
                    $run = Invoke-Measured $pwshFile ($pwshPrefix + @('-NoProfile', '-NonInteractive', '-File', $PSCommandPath, '-ModulePath', $ModulePath, '-Child', 'Baseline'))
                    if ($run.exitCode -ne 0) { throw "The baseline child exited $($run.exitCode): $($run.StdErr)" }
                    $answers = $null
                }
                'nmap' {
                    $run = Invoke-Measured $nmapPath ($tool.args + @('-iL', $targets)) -StdOutFile (Join-Path $work "$name-$i.txt")
                    if ($run.exitCode -ne 0) { throw "nmap exited $($run.exitCode): $($run.StdErr)" }
                    $answers = Read-NmapResults $run.StdOut
                }
            }
            $acc = if ($null -ne $answers) { Get-Accuracy $truth $answers } else { $null }
            $lastAnswers[$name] = $answers
            $results[$name].Add([pscustomobject]@{ wallSec = $run.wallSec; userSec = $run.userSec; sysSec = $run.sysSec; cpuSec = $run.cpuSec; peakRssKiB = $run.peakRssKiB; accuracy = $acc })
            Write-Host ("   {0,-14} {1,8:N2} s wall {2,8:N2} s CPU {3,8:N1} MiB{4}" -f $name, $run.wallSec, $run.cpuSec, ($run.peakRssKiB / 1024),
                $(if ($acc) { "   open found $($acc.foundOpen)/$($acc.truthOpen), false open $($acc.falseOpen), verdicts agree $($acc.verdictsAgreeing)/$($acc.reported)" } else { '' }))
        }
    }

    # --- shared hosts ------------------------------------------------------------------------
    $shared = $null
    $defaultMaxConnections = Get-DefaultMaxConnections
    if ($SharedDomains -gt 0) {
        Write-Step "Shared hosts: $SharedDomains domains on 2 MX hosts (limit $SharedLimit connections per client; $([math]::Min($SharedOpenDomains, $SharedDomains)) on the open one)"
        $hasMax = $null -ne $defaultMaxConnections
        Write-Host "   $pwshDisplay ... Test-OpenRelay -Domain (Get-Content shared-domains.txt) -DnsServer $($fleet.dns) -Port $port -ThrottleLimit $ThrottleLimit$(if ($hasMax) { " -MaxConnectionsPerAddress $SharedLimit" } else { '   (no -MaxConnectionsPerAddress in this build)' })" -ForegroundColor DarkGray
        $null = Invoke-FleetCommand $fleet 'reset'
        $rf = Join-Path $work 'shared.tsv'
        $run = Invoke-Measured $pwshFile ($pwshPrefix + @('-NoProfile', '-NonInteractive', '-File', $PSCommandPath, '-ModulePath', $ModulePath,
                '-Child', 'Domain', '-TargetsFile', (Join-Path $work 'shared-domains.txt'), '-DnsServer', $fleet.dns, '-ResultFile', $rf,
                '-Port', "$port", '-ThrottleLimit', "$ThrottleLimit", '-MaxConnectionsPerAddress', "$SharedLimit"))
        if ($run.exitCode -ne 0) { throw "The domain child exited $($run.exitCode): $($run.StdErr)" }
        $stats = (Invoke-FleetCommand $fleet 'stats').stats
        $rows = @(Get-Content -LiteralPath $rf | ForEach-Object { $f = $_.Split("`t"); [pscustomobject]@{ domain = $f[0]; address = $f[1]; verdict = $f[2]; reason = $f[3] } })
        $sharedTruth = @(Import-Csv -LiteralPath (Join-Path $work 'shared-truth.csv'))
        $openTruth = @($sharedTruth | Where-Object expected -EQ 'Open' | ForEach-Object domain)
        $openFound = @($rows | Where-Object { $_.verdict -eq 'Open' -and $_.domain -in $openTruth } | ForEach-Object domain | Sort-Object -Unique)
        $shared = [ordered]@{
            domains = $SharedDomains; limitPerClient = $SharedLimit; maxConnectionsPerAddressPassed = $hasMax
            wallSec = $run.wallSec; cpuSec = $run.cpuSec; peakRssKiB = $run.peakRssKiB
            results = $rows.Count; openDomainsTrue = $openTruth.Count; openDomainsFound = $openFound.Count
            falseOpen = @($rows | Where-Object { $_.verdict -eq 'Open' -and $_.domain -notin $openTruth }).Count
            inconclusive = @($rows | Where-Object verdict -EQ 'Inconclusive').Count
            verdicts = [ordered]@{}
            hosts = @($stats.shared | ForEach-Object { [ordered]@{ host = $_.host; address = $_.address; kind = $_.kind; sessionsOpened = $_.connections; refused421 = $_.refused; peakPerClient = $_.peakPerClient } })
            dnsQueries = $stats.dnsQueries
        }
        foreach ($g in $rows | Group-Object verdict) { $shared.verdicts[$g.Name] = $g.Count }
    }
}
finally {
    Stop-Fleet $fleet
}

# --- provider scale: the report and -Latest on a generated state database -----------------------
function Invoke-Scale {
    # The state database is cached by its parameters, the schema version it was written with (a file of an earlier
    # schema lacks the later columns and would measure less than a real one) and the day its runs end (today: the
    # report's trend is the last 90 days).
    $day = [DateTime]::UtcNow.ToString('yyyyMMdd')
    $schema = [regex]::Match((Get-Content -TotalCount 1 -LiteralPath (Join-Path $PSScriptRoot '../src/Omr.Engine/State/Schema.sql')), 'schema version (\d+)').Groups[1].Value
    if (-not $schema) { throw 'src/Omr.Engine/State/Schema.sql does not say its schema version on its first line.' }
    $db = Join-Path $OutputPath "state-${ScaleDomains}x$ScaleRuns-s$Seed-v$schema-$day.db"
    $info = "$db.json"
    $generated = $null
    if (-not (Test-Path -LiteralPath $db) -or -not (Test-Path -LiteralPath $info)) {
        Write-Step "Scale: generating $ScaleDomains domains x $ScaleRuns nightly runs: dotnet $FleetPath --state-db $db"
        Get-ChildItem -LiteralPath $OutputPath -Filter "state-${ScaleDomains}x$ScaleRuns-s$Seed-*.db*" | Remove-Item -Force
        $gen = Invoke-Measured 'dotnet' @($FleetPath, '--state-db', $db, '--domains', "$ScaleDomains", '--runs', "$ScaleRuns", '--seed', "$Seed")
        if ($gen.exitCode -ne 0) { throw "The state generator exited $($gen.exitCode): $($gen.StdErr)" }
        Set-Content -LiteralPath $info -Value @($gen.StdOut -split '\r?\n' | Where-Object { $_ })[-1]
        $generated = [ordered]@{ wallSec = [math]::Round($gen.wallSec, 3); cpuSec = [math]::Round($gen.cpuSec, 3); peakRssMiB = [math]::Round($gen.peakRssKiB / 1024, 1) }
    }
    else { Write-Step "Scale: $ScaleDomains domains x $ScaleRuns runs, cached: $db" }
    $facts = Get-Content -Raw -LiteralPath $info | ConvertFrom-Json

    function Measure-Child([string] $Kind, [string] $ResultFile) {
        $run = Invoke-Measured $pwshFile ($pwshPrefix + @('-NoProfile', '-NonInteractive', '-File', $PSCommandPath, '-ModulePath', $ModulePath,
                '-Child', $Kind, '-StatePath', $db, '-ResultFile', $ResultFile))
        if ($run.exitCode -eq 3 -and $Kind -eq 'Report') { return $null }
        if ($run.exitCode -ne 0) { throw "The $Kind child exited $($run.exitCode): $($run.StdErr)" }
        $run
    }
    $reportFile = Join-Path $work 'scale-report.html'
    $report = Measure-Child 'Report' $reportFile
    $latestFile = Join-Path $work 'scale-latest.txt'
    $latest = Measure-Child 'Latest' $latestFile
    function Figures($Run, [double] $TargetWall, [double] $TargetRss) {
        if (-not $Run) { return [ordered]@{ available = $false } }
        $wall = [math]::Round($Run.wallSec, 3); $rss = [math]::Round($Run.peakRssKiB / 1024, 1)
        [ordered]@{
            available = $true; wallSec = $wall; cpuSec = [math]::Round($Run.cpuSec, 3); userSec = [math]::Round($Run.userSec, 3); sysSec = [math]::Round($Run.sysSec, 3)
            peakRssMiB = $rss; targetWallSec = $TargetWall; targetRssMiB = $TargetRss
            withinTarget = ($wall -le $TargetWall) -and ($TargetRss -le 0 -or $rss -le $TargetRss)
        }
    }
    $r = Figures $report 10 300
    if ($report) { $r.htmlBytes = (Get-Item -LiteralPath $reportFile).Length }
    $l = Figures $latest 2 0
    $l.records = [long](Get-Content -LiteralPath $latestFile -Raw).Trim()
    [ordered]@{
        domains = $ScaleDomains; runs = $ScaleRuns; seed = $Seed; path = $db; bytes = (Get-Item -LiteralPath $db).Length
        keys = $facts.keys; results = $facts.results; notices = $facts.notices; openCasesAtEnd = $facts.openCasesAtEnd
        generated = $generated; report = $r; latest = $l
    }
}
$scale = if ($SkipScale) { $null } else { Invoke-Scale }

# --- summary -----------------------------------------------------------------------------------
$addrCount = $Hosts
$summary = [ordered]@{}
foreach ($name in $results.Keys) {
    $runs = $results[$name]
    $wall = Get-Median @($runs | ForEach-Object wallSec)
    $cpu = Get-Median @($runs | ForEach-Object cpuSec)
    $summary[$name] = [ordered]@{
        tool = $name; command = $tools[$name].command; scans = $tools[$name].kind -ne 'baseline'
        wallSec = [math]::Round($wall, 3); cpuSec = [math]::Round($cpu, 3)
        userSec = [math]::Round((Get-Median @($runs | ForEach-Object userSec)), 3); sysSec = [math]::Round((Get-Median @($runs | ForEach-Object sysSec)), 3)
        cpuMsPerAddress = [math]::Round(1000 * $cpu / $addrCount, 3)
        peakRssMiB = [math]::Round((Get-Median @($runs | ForEach-Object peakRssKiB)) / 1024, 1)
        accuracy = $runs[-1].accuracy
        runs = @($runs | ForEach-Object { [ordered]@{ wallSec = [math]::Round($_.wallSec, 3); cpuSec = [math]::Round($_.cpuSec, 3); peakRssKiB = $_.peakRssKiB } })
    }
}
# K: the fleet's own count of the round trips (delayed writes) Omr cost each pipelining server.
$kRuns = @($omrStats | ForEach-Object {
        $p = $_.byPipelining.PSObject.Properties['pipelining']
        if ($p -and $p.Value.servers -gt 0) { $p.Value.rounds / $p.Value.servers }
    })
$kPlainRuns = @($omrStats | ForEach-Object {
        $p = $_.byPipelining.PSObject.Properties['plain']
        if ($p -and $p.Value.servers -gt 0) { $p.Value.rounds / $p.Value.servers }
    })
$kMeasured = if ($kRuns) { Get-Median $kRuns } else { 5.0 }
$Kplain = if ($kPlainRuns) { Get-Median $kPlainRuns } else { $null }
$limitSec = [math]::Ceiling($addrCount / $ThrottleLimit) * $kMeasured * $LatencyMs / 1000
$limit = [ordered]@{
    formula = 'ceil(N/C) * K * L'; N = $addrCount; C = $ThrottleLimit; latencyMs = $LatencyMs
    K = [math]::Round($kMeasured, 2); Knominal = 5; KnonPipelining = if ($null -ne $Kplain) { [math]::Round($Kplain, 2) } else { $null }
    howKIsCounted = 'K measured by the fleet: delayed writes (one per greeting and per read that held complete commands: a pipelined group is one) to the open/closed/trick servers that advertise PIPELINING during the Omr run, divided by their number (median of runs). Nominal 5 = greeting + EHLO + ~3 battery groups; QUIT adds one when its reply is awaited.'
    seconds = [math]::Round($limitSec, 3)
    slowestAddressSec = if ($null -ne $Kplain) { [math]::Round($Kplain * $LatencyMs / 1000, 3) } else { $null }
}
function Ratio([double] $a, [double] $b) { if ($b -le 0) { $null } else { [math]::Round($a / $b, 3) } }
$ratios = [ordered]@{}
foreach ($o in @('omr', 'omr-streamed')) {
    foreach ($n in @('nmap-default', 'nmap-tuned')) {
        if (-not $summary.Contains($n) -or -not $summary.Contains($o)) { continue }
        $ratios["$o/$n"] = [ordered]@{
            wall = Ratio $summary[$o].wallSec $summary[$n].wallSec; cpu = Ratio $summary[$o].cpuSec $summary[$n].cpuSec
            peakRss = Ratio $summary[$o].peakRssMiB $summary[$n].peakRssMiB
        }
    }
}
if ($summary.Contains('omr')) { $ratios['omr/limit'] = [ordered]@{ wall = Ratio $summary.omr.wallSec $limitSec } }

# The floor under Omr's wall in this run: PowerShell's own start (the fastest baseline run) plus the slowest
# server's round trips. A server without PIPELINING answers one command at a time; the fleet counted
# its delayed writes (K non-pipelining, all connections together), and at best they split evenly over
# the connections Test-OpenRelay opens to one address at once (-MaxConnectionsPerAddress, here its
# default: the omr rows do not pass it).
$floor = $null
if ($null -ne $Kplain -and $summary.Contains('pwsh-baseline')) {
    $perAddress = if ($null -ne $defaultMaxConnections) { $defaultMaxConnections } else { 1 }
    $trips = [math]::Ceiling($Kplain / $perAddress)
    $baselineSec = [math]::Round(($results['pwsh-baseline'] | Measure-Object wallSec -Minimum).Minimum, 3)
    $floorSec = $baselineSec + $trips * $LatencyMs / 1000
    $floor = [ordered]@{
        formula = 'fastest baseline wall + ceil(Knon-pipelining / M) * L'
        baselineWallSec = $baselineSec; KnonPipelining = $limit.KnonPipelining; M = $perAddress
        roundTrips = $trips; latencyMs = $LatencyMs; seconds = [math]::Round($floorSec, 3)
        bestRatio = [ordered]@{}
    }
    foreach ($n in @('nmap-default', 'nmap-tuned')) {
        if ($summary.Contains($n)) { $floor.bestRatio[$n] = [math]::Round($summary[$n].wallSec / $floorSec, 2) }
    }
}

$report = [ordered]@{
    schema = 'omr-bench/1'; timestamp = [DateTime]::UtcNow.ToString('o')
    machine = [ordered]@{ cpus = [Environment]::ProcessorCount; loadBefore = $load; nmap = $nmapVersion; measuredWith = if ($timeTool) { '/usr/bin/time' } else { '/proc polling' } }
    parameters = [ordered]@{ hosts = $Hosts; latencyMs = $LatencyMs; throttleLimit = $ThrottleLimit; repeat = $Repeat; seed = $Seed; mix = $fleet.mix; quick = [bool]$Quick; pipeliningShare = $fleet.pipeliningShare }
    fleet = [ordered]@{ kinds = $fleet.kinds; expected = $fleet.expectedCounts; port = $fleet.port; dns = $fleet.dns }
    tools = @($summary.Values)
    ratios = $ratios
    limit = $limit
    floor = $floor
    shared = $shared
    scale = $scale
    workDir = $work
}

# --- the table ---------------------------------------------------------------------------------
$rows = foreach ($s in $summary.Values) {
    $a = $s.accuracy
    [pscustomobject]@{
        Tool            = $s.tool
        'Wall s'        = '{0:N2}' -f $s.wallSec
        'CPU s'         = '{0:N2}' -f $s.cpuSec
        'CPU ms/addr'   = '{0:N2}' -f $s.cpuMsPerAddress
        'User s'        = '{0:N2}' -f $s.userSec
        'Sys s'         = '{0:N2}' -f $s.sysSec
        'Peak RSS MiB'  = '{0:N1}' -f $s.peakRssMiB
        'Open found'    = if ($a) { "$($a.foundOpen)/$($a.truthOpen)" } else { '-' }
        'False open'    = if ($a) { "$($a.falseOpen)" } else { '-' }
        'Verdicts agree' = if ($a) { '{0}/{1} ({2:P0})' -f $a.verdictsAgreeing, $a.reported, $a.verdictAgreement } else { '-' }
        'Runs wall s'   = ($s.runs | ForEach-Object { '{0:N2}' -f $_.wallSec }) -join ' '
    }
}
Write-Step "Results: N=$addrCount addresses, L=$LatencyMs ms, Omr -ThrottleLimit $ThrottleLimit, median of $Repeat"
$right = 'Wall s', 'CPU s', 'CPU ms/addr', 'User s', 'Sys s', 'Peak RSS MiB', 'Open found', 'False open', 'Verdicts agree'
$cols = foreach ($p in @('Tool') + $right + @('Runs wall s')) { if ($p -in $right) { @{ Expression = $p; Alignment = 'Right' } } else { $p } }
Write-Host ''
Write-Host (($rows | Format-Table -Property $cols -AutoSize | Out-String -Width 220).Trim("`r", "`n"))
Write-Host ''
foreach ($k in $ratios.Keys) {
    $r = $ratios[$k]
    Write-Host ("   {0,-26} wall {1}x{2}" -f $k, $r.wall, $(if ($r.Contains('cpu')) { ", CPU $($r.cpu)x, peak RSS $($r.peakRss)x" } else { '' }))
}
$lockStep = if ($limit.KnonPipelining) {
    "; a non-pipelining server costs $($limit.KnonPipelining) round trips in all, spread over up to -MaxConnectionsPerAddress connections at once; $($limit.slowestAddressSec) s if on one"
} else { '; no server without PIPELINING in this mix' }
Write-Host ("   physical limit ceil(N/C)*K*L = ceil({0}/{1}) * {2:N2} * {3} ms = {4:N2} s   (K measured by the fleet on pipelining servers; nominal 5{5})" -f
    $addrCount, $ThrottleLimit, $kMeasured, $LatencyMs, $limitSec, $lockStep)
if ($floor) {
    Write-Host ("   floor for Omr here: fastest baseline wall + ceil(K non-pipelining / M) * L = {0:N2} s + ceil({1:N2} / {2}) * {3} ms = {4:N2} s (M = -MaxConnectionsPerAddress, default {2}); so at best {5}" -f
        $floor.baselineWallSec, $floor.KnonPipelining, $floor.M, $LatencyMs, $floor.seconds, (($floor.bestRatio.GetEnumerator() | ForEach-Object { "$($_.Key)/floor $($_.Value)x" }) -join ', '))
}
else { Write-Host '   floor for Omr here: no server without PIPELINING in this mix (or no baseline run)' }
if ($summary.Contains('omr') -and $summary.omr.accuracy.acceptedTestsExact -ne $null) {
    Write-Host "   Omr's accepted tests equal the fleet's truth on $($summary.omr.accuracy.acceptedTestsExact) of $($summary.omr.accuracy.truthOpen) open addresses."
}
Write-Host "   nmap verdicts: 'is an open relay' = Open, 'doesn't seem'/'isn't' = Closed, port not open = Unreachable, anything else = Inconclusive. Below 1x: Omr is faster / smaller."
if ($shared) {
    Write-Host ("   shared hosts: {0} results for {1} domains; open domains found {2}/{3}; false open {4}; Inconclusive {5}; verdicts {6}" -f $shared.results, $shared.domains,
        $shared.openDomainsFound, $shared.openDomainsTrue, $shared.falseOpen, $shared.inconclusive, (($shared.verdicts.GetEnumerator() | ForEach-Object { "$($_.Value) $($_.Key)" }) -join ', '))
    foreach ($h in $shared.hosts) { Write-Host ("      {0} ({1}): {2} sessions opened, {3} refused with 421, peak {4} per client (limit {5})" -f $h.host, $h.kind, $h.sessionsOpened, $h.refused421, $h.peakPerClient, $SharedLimit) }
    Write-Host ("      {0:N2} s wall, {1:N2} s CPU; -MaxConnectionsPerAddress {2}" -f $shared.wallSec, $shared.cpuSec, $(if ($shared.maxConnectionsPerAddressPassed) { "$SharedLimit passed" } else { 'not available in this build' }))
}
if ($scale) {
    Write-Host ("   scale: {0:N0} domains x {1} runs: {2:N0} results, {3:N0} keys, {4:N0} notices, {5:N0} open cases at the end, {6:N0} MiB{7}" -f $scale.domains, $scale.runs,
        $scale.results, $scale.keys, $scale.notices, $scale.openCasesAtEnd, ($scale.bytes / 1MB), $(if ($scale.generated) { " (generated in $($scale.generated.wallSec) s)" } else { ' (cached)' }))
    $scaleRows = @(
        @{ Name = 'report'; Command = 'Export-RelayReport -StatePath <db> -Path <file>'; F = $scale.report; Extra = if ($scale.report.available) { '{0:N0} KiB of HTML' -f ($scale.report.htmlBytes / 1KB) } else { '' } }
        @{ Name = 'latest'; Command = 'Get-RelayHistory -StatePath <db> -Latest | Measure-Object'; F = $scale.latest; Extra = '{0:N0} records' -f $scale.latest.records }
    )
    foreach ($row in $scaleRows) {
        $f = $row.F
        if (-not $f.available) { Write-Host ("   {0,-7} {1}: not in this build" -f $row.Name, $row.Command); continue }
        $rssTarget = if ($f.targetRssMiB -gt 0) { " (target <= $($f.targetRssMiB) MiB)" } else { '' }
        Write-Host ("   {0,-7} {1,8:N2} s wall (target <= {2} s) {3,8:N2} s CPU {4,8:N1} MiB peak RSS{5}  {6}  {7}; {8}" -f $row.Name, $f.wallSec, $f.targetWallSec, $f.cpuSec, $f.peakRssMiB,
            $rssTarget, $(if ($f.withinTarget) { 'within target' } else { 'OVER TARGET' }), $row.Command, $row.Extra)
    }
}
$json = $report | ConvertTo-Json -Depth 8
$file = Join-Path $OutputPath "bench-$stamp.json"
Set-Content -LiteralPath $file -Value $json
Set-Content -LiteralPath (Join-Path $OutputPath 'latest.json') -Value $json
Write-Host "   JSON: $file (and latest.json); tool outputs in $work"
Write-Host ("Bench done in {0:N0} s." -f $benchWatch.Elapsed.TotalSeconds)
exit 0
