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

    function Invoke-Bench([string] $OutputPath, [hashtable] $Environment = @{}) {
        $psi = [System.Diagnostics.ProcessStartInfo]::new($Pwsh)
        foreach ($a in $Prefix + @('-NoProfile', '-NonInteractive', '-File', $Bench, '-ModulePath', $ModulePath, '-FleetPath', $FleetPath,
                '-OutputPath', $OutputPath, '-Quick', '-Hosts', '30', '-Net', '123')) { $psi.ArgumentList.Add($a) }
        foreach ($k in $Environment.Keys) { $psi.Environment[$k] = $Environment[$k] }
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $psi.RedirectStandardInput = $true
        $psi.UseShellExecute = $false
        $p = [System.Diagnostics.Process]::Start($psi)
        $p.StandardInput.Close()
        $out = $p.StandardOutput.ReadToEndAsync()
        $err = $p.StandardError.ReadToEndAsync()
        if (-not $p.WaitForExit(150000)) { $p.Kill($true); throw 'Bench.ps1 -Quick did not finish within 150 s.' }
        $p.WaitForExit()
        [pscustomobject]@{ ExitCode = $p.ExitCode; Text = $out.Result + $err.Result }
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
