#Requires -Version 7.2
# The benchmark instrument (tools/Bench.ps1 + out/fleet/Omr.Fleet.dll) in quick mode: it runs,
# prints the side-by-side table and writes JSON with every tool's figures and accuracy. It asserts
# no speed figure.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:ModulePath = Get-OmrModulePath
    $script:Bench = Join-Path $PSScriptRoot '../tools/Bench.ps1'
    $script:FleetPath = Join-Path (Split-Path -Parent (Split-Path -Parent $ModulePath)) 'fleet/Omr.Fleet.dll'
    $script:Pwsh = [Environment]::ProcessPath
    $script:Prefix = @()
    if ([IO.Path]::GetFileNameWithoutExtension($Pwsh) -eq 'dotnet') { $script:Prefix = @([Environment]::GetCommandLineArgs()[0]) }
    $script:HasNmap = [bool](Get-Command nmap -CommandType Application -ErrorAction SilentlyContinue)

    # Runs a command with stdin closed; with -FileLimit under bash's 'ulimit -n' (soft and hard) of that many descriptors.
    function Invoke-Captured([string[]] $Command, [hashtable] $Environment = @{}, [int] $FileLimit) {
        if ($FileLimit) { $Command = @('bash', '-c', "ulimit -n $FileLimit && exec `"`$@`"", 'bash') + $Command }
        $psi = [System.Diagnostics.ProcessStartInfo]::new($Command[0])
        foreach ($a in $Command | Select-Object -Skip 1) { $psi.ArgumentList.Add($a) }
        foreach ($k in $Environment.Keys) { $psi.Environment[$k] = $Environment[$k] }
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $psi.RedirectStandardInput = $true
        $psi.UseShellExecute = $false
        $p = [System.Diagnostics.Process]::Start($psi)
        $p.StandardInput.Close()
        $out = $p.StandardOutput.ReadToEndAsync()
        $err = $p.StandardError.ReadToEndAsync()
        if (-not $p.WaitForExit(150000)) { $p.Kill($true); throw "$($Command -join ' ') did not finish within 150 s." }
        $p.WaitForExit()
        [pscustomobject]@{ ExitCode = $p.ExitCode; Text = $out.Result + $err.Result; Out = $out.Result; Err = $err.Result }
    }

    function Invoke-Bench([string] $OutputPath, [hashtable] $Environment = @{}, [string[]] $Arguments = @('-Hosts', '30', '-Net', '123'), [int] $FileLimit) {
        Invoke-Captured -Environment $Environment -FileLimit $FileLimit -Command ((@($Pwsh) + $Prefix) + @('-NoProfile', '-NonInteractive', '-File', $Bench,
                '-ModulePath', $ModulePath, '-FleetPath', $FleetPath, '-OutputPath', $OutputPath, '-Quick') + $Arguments)
    }
}

Describe 'Bench (quick mode)' -Tag Bench {
    BeforeAll {
        $script:OutDir = Join-Path ([IO.Path]::GetTempPath()) ('omr-bench-test-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        if ($HasNmap) {
            $script:Run = Invoke-Bench $OutDir
            $latest = Join-Path $OutDir 'latest.json'
            $script:Report = if (Test-Path -LiteralPath $latest) { Get-Content -Raw -LiteralPath $latest | ConvertFrom-Json } else { $null }
        }
    }
    AfterAll {
        if ($OutDir) { Remove-Item -Recurse -Force -LiteralPath $OutDir -ErrorAction SilentlyContinue }
    }

    It 'exits 0 and prints the side-by-side table' {
        if (-not $HasNmap) { Set-ItResult -Skipped -Because 'nmap is not installed (apt-get install -y nmap)'; return }
        $Run.ExitCode | Should -Be 0 -Because $Run.Text
        $Run.Text | Should -Match 'Tool\s+Wall s\s+CPU s\s+CPU ms/addr\s+User s\s+Sys s\s+Peak RSS MiB\s+Open found\s+False open\s+Verdicts agree'
        foreach ($tool in 'omr', 'omr-streamed', 'pwsh-baseline', 'nmap-default', 'nmap-tuned') { $Run.Text | Should -Match "(?m)^$tool\s+\d" }
        $Run.Text | Should -Match 'omr/nmap-default\s+wall [\d.]+x'
        $Run.Text | Should -Match 'physical limit ceil\(N/C\)\*K\*L'
        $Run.Text | Should -Match 'shared hosts: \d+ results for 20 domains'
    }

    It 'writes latest.json and a timestamped copy with numeric figures for every tool' {
        if (-not $HasNmap) { Set-ItResult -Skipped -Because 'nmap is not installed (apt-get install -y nmap)'; return }
        $Report | Should -Not -BeNullOrEmpty
        @(Get-ChildItem -LiteralPath $OutDir -Filter 'bench-*.json').Count | Should -Be 1
        $Report.parameters.hosts | Should -Be 30
        $Report.parameters.latencyMs | Should -Be 10
        @($Report.tools.tool) | Should -Be @('omr', 'omr-streamed', 'pwsh-baseline', 'nmap-default', 'nmap-tuned')
        foreach ($t in $Report.tools) {
            foreach ($field in 'wallSec', 'cpuSec', 'userSec', 'sysSec', 'cpuMsPerAddress', 'peakRssMiB') {
                $t.$field | Should -BeOfType [double] -Because "$($t.tool).$field"
            }
            $t.wallSec | Should -BeGreaterThan 0
            $t.peakRssMiB | Should -BeGreaterThan 0
            @($t.runs).Count | Should -Be 1
        }
    }

    It 'computes accuracy against the fleet truth for every scanning tool' {
        if (-not $HasNmap) { Set-ItResult -Skipped -Because 'nmap is not installed (apt-get install -y nmap)'; return }
        foreach ($t in @($Report.tools | Where-Object scans)) {
            $a = $t.accuracy
            $a | Should -Not -BeNullOrEmpty -Because $t.tool
            $a.addresses | Should -Be 30
            $a.reported | Should -BeGreaterThan 0 -Because "$($t.tool) reported addresses"
            $a.truthOpen | Should -BeGreaterThan 0
            ($a.foundOpen + $a.missedOpen) | Should -Be $a.truthOpen
            $a.falseOpen | Should -BeGreaterOrEqual 0
            $a.verdictAgreement | Should -BeGreaterOrEqual 0
            $a.verdictAgreement | Should -BeLessOrEqual 1
        }
        ($Report.tools | Where-Object tool -EQ 'pwsh-baseline').accuracy | Should -BeNullOrEmpty
        $Report.ratios.'omr/nmap-default'.wall | Should -BeOfType [double]
        $Report.ratios.'omr/nmap-tuned'.cpu | Should -BeOfType [double]
        $Report.limit.K | Should -BeGreaterThan 0
        $Report.limit.seconds | Should -BeGreaterThan 0
        foreach ($t in $Report.tools) { [math]::Abs($t.userSec + $t.sysSec - $t.cpuSec) | Should -BeLessOrEqual 0.002 -Because "$($t.tool): user + sys is the CPU column" }
    }

    It 'prints the floor under Omr''s wall from the same run: start-up plus the non-pipelining servers'' round trips over the default connections per address' {
        if (-not $HasNmap) { Set-ItResult -Skipped -Because 'nmap is not installed (apt-get install -y nmap)'; return }
        $f = $Report.floor
        $f | Should -Not -BeNullOrEmpty -Because 'the quick mix has servers without PIPELINING'
        $f.M | Should -Be 2 -Because "Test-OpenRelay's default -MaxConnectionsPerAddress"
        $f.KnonPipelining | Should -Be $Report.limit.KnonPipelining
        $f.roundTrips | Should -Be ([math]::Ceiling($f.KnonPipelining / $f.M))
        $f.baselineWallSec | Should -Be ((($Report.tools | Where-Object tool -EQ 'pwsh-baseline').runs | Measure-Object wallSec -Minimum).Minimum)
        $f.seconds | Should -Be ([math]::Round($f.baselineWallSec + $f.roundTrips * $Report.parameters.latencyMs / 1000, 3))
        $f.bestRatio.'nmap-tuned' | Should -Be ([math]::Round(($Report.tools | Where-Object tool -EQ 'nmap-tuned').wallSec / $f.seconds, 2))
        $Run.Text | Should -Match 'floor for Omr here: fastest baseline wall \+ ceil\(K non-pipelining / M\) \* L = [\d.]+ s \+ ceil\([\d.]+ / 2\) \* 10 ms = [\d.]+ s .*nmap-tuned/floor [\d.]+x'
        $Report.shared.results | Should -BeGreaterThan 0
        @($Report.shared.hosts).Count | Should -Be 2
        ($Report.shared.hosts | Measure-Object sessionsOpened -Sum).Sum | Should -BeGreaterThan 0
    }

    It 'measures the report and Get-RelayHistory -Latest on a generated state database (quick: 300 domains x 10 runs), next to the targets' {
        if (-not $HasNmap) { Set-ItResult -Skipped -Because 'nmap is not installed (apt-get install -y nmap)'; return }
        $s = $Report.scale
        $s | Should -Not -BeNullOrEmpty -Because $Run.Text
        $s.domains | Should -Be 300
        $s.runs | Should -Be 10
        $s.results | Should -BeGreaterThan 3000
        $s.keys | Should -BeGreaterThan 300
        $s.generated.wallSec | Should -BeGreaterThan 0 -Because 'a new output folder has no cached database'
        $s.latest.available | Should -BeTrue
        $s.latest.records | Should -Be $s.keys -Because 'one latest result per (domain, address, port)'
        $s.latest.wallSec | Should -BeGreaterThan 0
        $s.latest.peakRssMiB | Should -BeGreaterThan 0
        $s.latest.targetWallSec | Should -Be 2
        $Run.Text | Should -Match 'scale: 300 domains x 10 runs: [\d,]+ results'
        # The file is what the engine writes today: its schema version in the name, and the results carry software and listings.
        $s.path | Should -Match '-v\d+-\d{8}\.db$'
        Import-OmrModule
        $latest = @(Get-RelayHistory -StatePath $s.path -Latest)
        @($latest | Where-Object { $_.Software.Product -eq 'Exim' }).Count | Should -BeGreaterThan 0
        @(Get-RelayHistory -StatePath $s.path -Verdict Open | Where-Object { @($_.Listings).Count -gt 0 }).Count | Should -BeGreaterThan 0
        $Run.Text | Should -Match '(?m)^\s+latest\s+[\d.]+ s wall \(target <= 2 s\)'
        if ($s.report.available) {
            $s.report.targetWallSec | Should -Be 10
            $s.report.targetRssMiB | Should -Be 300
            $s.report.htmlBytes | Should -BeGreaterThan 1000
            $Run.Text | Should -Match '(?m)^\s+report\s+[\d.]+ s wall \(target <= 10 s\)'
        }
        else { $Run.Text | Should -Match 'report\s+Export-RelayReport -StatePath <db> -Path <file>: not in this build' }
    }
}

Describe 'Bench without nmap' -Tag Bench {
    It 'exits 1 and says how to install nmap' {
        $out = Join-Path ([IO.Path]::GetTempPath()) ('omr-bench-nonmap-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        try {
            $r = Invoke-Bench $out @{ PATH = '/nonexistent' }
            $r.ExitCode | Should -Be 1
            $r.Text | Should -Match 'apt-get install -y nmap'
        }
        finally { Remove-Item -Recurse -Force -LiteralPath $out -ErrorAction SilentlyContinue }
    }
}

Describe 'Fleet file descriptors' -Tag Bench {
    # Under 2000 descriptors (soft and hard): 3000 hosts need about 5100 (a listener each but the down ones,
    # 2000 probing connections, the runtime); 300 hosts about 1100.
    It 'refuses, before it binds, a fleet the limit cannot hold: what it needs, the limits, what to do, exit code 3' {
        $r = Invoke-Captured -FileLimit 2000 -Command @('dotnet', $FleetPath, '--hosts', '3000', '--net', '124')
        $r.ExitCode | Should -Be 3 -Because $r.Text
        $r.Out | Should -BeNullOrEmpty -Because 'no manifest: nothing was bound'
        $need = [regex]::Match($r.Err, '^Omr\.Fleet: 3000 hosts need (\d+) file descriptors \((\d+) listeners \+ 2 DNS sockets \+ 2000 probing connections \+ 256 for the runtime\), but RLIMIT_NOFILE is soft 2000, hard 2000\.')
        $need.Success | Should -BeTrue -Because $r.Err
        [int]$need.Groups[1].Value | Should -Be ([int]$need.Groups[2].Value + 2 + 2000 + 256)
        [int]$need.Groups[2].Value | Should -BeGreaterThan 2000
        $r.Err | Should -Match "Raise the limit \(as root: ulimit -n $($need.Groups[1].Value);"
        $fit = [regex]::Match($r.Err, 'run fewer hosts: (\d+) fit \(--hosts')
        $fit.Success | Should -BeTrue -Because $r.Err
        [int]$fit.Groups[1].Value | Should -BeGreaterThan 300
        [int]$fit.Groups[1].Value | Should -BeLessThan 3000
        $r.Err | Should -Not -Match 'Unhandled exception|Could not load'
    }

    It 'starts under the same limit with a host count that fits' {
        $r = Invoke-Captured -FileLimit 2000 -Command @('dotnet', $FleetPath, '--hosts', '300', '--net', '124', '--no-inline-truth')
        $r.ExitCode | Should -Be 0 -Because $r.Text
        $manifest = ($r.Out -split '\r?\n')[0] | ConvertFrom-Json
        $manifest.hosts | Should -Be 300
        $manifest.port | Should -BeGreaterThan 0
    }

    It 'the bench reports the fleet''s reason and exits 1 instead of crashing' {
        if (-not $HasNmap) { Set-ItResult -Skipped -Because 'nmap is not installed (apt-get install -y nmap)'; return }
        $out = Join-Path ([IO.Path]::GetTempPath()) ('omr-bench-nofiles-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        try {
            $r = Invoke-Bench $out -FileLimit 2000 -Arguments @('-Hosts', '3000', '-Net', '124')
            $r.ExitCode | Should -Be 1 -Because $r.Text
            $r.Text | Should -Match 'Bench: the fleet did not start \(exit code 3\)\.'
            $r.Text | Should -Match 'Omr\.Fleet: 3000 hosts need \d+ file descriptors .* RLIMIT_NOFILE is soft 2000, hard 2000\. Raise the limit \(as root: ulimit -n \d+'
            $r.Text | Should -Not -Match 'Unhandled exception|Could not load|printed no manifest'
            Test-Path -LiteralPath (Join-Path $out 'latest.json') | Should -BeFalse
        }
        finally { Remove-Item -Recurse -Force -LiteralPath $out -ErrorAction SilentlyContinue }
    }
}
