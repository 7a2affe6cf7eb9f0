#Requires -Version 7.2
# What a newcomer sees from the README's first command: 'dotnet pwsh ./build.ps1 Demo' (here with
# -NoBuild: build.ps1 Test already built the module). It runs in a child process, exactly as typed,
# and its output must show the result table, the evidence bundle, the notice, and a second run
# that sends nothing. CI runs it as part of build.ps1 Test.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:Root = Split-Path -Parent $PSScriptRoot
    $pwsh = @(Get-OmrPwshCommand)
    $arguments = @($pwsh | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive', '-File', (Join-Path $Root 'build.ps1'), 'Demo', '-NoBuild')
    Push-Location $Root
    try {
        $env:NO_COLOR = '1'
        $raw = & $pwsh[0] @arguments 2>&1
        $script:ExitCode = $LASTEXITCODE
    }
    finally {
        Remove-Item Env:NO_COLOR -ErrorAction SilentlyContinue
        Pop-Location
    }
    # Plain text lines, without colour escapes.
    $script:Lines = @($raw | ForEach-Object { "$_" -replace '\x1b\[[0-9;?]*[A-Za-z]', '' } | ForEach-Object { $_ -split "\r?\n" })
    $script:Text = $Lines -join "`n"

    # The lines of the table that follows the first line matching $After, up to the first blank line after it.
    function script:Get-TableAfter([string] $After, [string] $Header = '^Domain\s') {
        $start = -1
        for ($i = 0; $i -lt $Lines.Count; $i++) { if ($Lines[$i] -match $After) { $start = $i; break } }
        if ($start -lt 0) { return @() }
        $h = -1
        for ($i = $start + 1; $i -lt $Lines.Count; $i++) { if ($Lines[$i] -match $Header) { $h = $i; break } }
        if ($h -lt 0) { return @() }
        $rows = [System.Collections.Generic.List[string]]::new()
        for ($i = $h; $i -lt $Lines.Count; $i++) {
            if ($i -gt $h + 1 -and -not $Lines[$i].Trim()) { break }
            $rows.Add($Lines[$i])
        }
        , $rows.ToArray()
    }
}

Describe 'build.ps1 Demo, as a newcomer runs it' -Tag Demo, Lab {
    It 'exits 0 and stops the lab' {
        $ExitCode | Should -Be 0 -Because $Text
        $Text | Should -Match '==> Lab stopped\.'
    }

    It 'shows the result table: Domain first, within 120 columns, one row per domain with its verdict' {
        $table = Get-TableAfter '^==> Test-OpenRelay -Domain open\.omr-lab\.test'
        $table.Count | Should -BeGreaterThan 5 -Because $Text
        $table[0] | Should -Match '^Domain\s+ComputerName\s+Address\s+Port\s+Verdict'
        @($table | Where-Object { $_.Length -gt 120 }) | Should -BeNullOrEmpty
        $table -join "`n" | Should -Match '(?m)^open\.omr-lab\.test\s+open\.mx\.omr-lab\.test\s+127\.66\.0\.1\s+\d+\s+Open\s'
        $table -join "`n" | Should -Match '(?m)^closed\.omr-lab\.test\s+closed\.mx\.omr-lab\.test\s+\S+\s+\d+\s+Closed\s'
        $table -join "`n" | Should -Match '(?m)^nullmx\.omr-lab\.test\s+\(null MX\)\s+\d+\s+NoMail\s'
        # A server that shuts the tester out is not Closed.
        $table -join "`n" | Should -Match '(?m)^reject-session\.omr-la\S*\s.*\sInconclusive\s+None\s+ClientRefused'
        $Text | Should -Match '(?m)^\d+ results in [\d.,]+ s: .*\d+ Open'
    }

    It 'shows the evidence bundle path, and the bundle is there' {
        $line = @($Lines | Where-Object { $_ -match '^\s+Evidence bundle: (.+)$' }) | Select-Object -First 1
        $line | Should -Not -BeNullOrEmpty -Because $Text
        $path = ([regex]::Match($line, 'Evidence bundle: (.+)$').Groups[1].Value).Trim()
        $path | Should -Exist
        foreach ($file in 'report.html', 'evidence.json', 'message.eml', 'transcript.log') { Join-Path $path $file | Should -Exist }
        $table = Get-TableAfter '^==> Test-OpenRelay -Domain .*-Verify'
        $table -join "`n" | Should -Match '(?m)^open\.omr-lab\.test\s.*\sDelivered\s'
        $table -join "`n" | Should -Match '(?m)^discard\.omr-lab\.test\s.*\sDataAccepted\s'
        # The verification mailbox's own (open) backup MX is never proven through that mailbox.
        $table -join "`n" | Should -Match '(?m)^noc\.omr-lab\.test\s+mailbox-backup\S*\s.*\sRecipientAccepted\s+False\s+no verification messag'
    }

    It 'shows the notice that was written, and its message' {
        $table = Get-TableAfter '^==> \.\.\. \| Send-RelayNotice'
        $table.Count | Should -BeGreaterThan 2 -Because $Text
        $table -join "`n" | Should -Match '(?m)^open\.omr-lab\.test\s+Written\s'
        $eml = @($Lines | Where-Object { $_ -match '^==> The first lines of (.+\.eml)$' }) | Select-Object -First 1
        $eml | Should -Not -BeNullOrEmpty
        ([regex]::Match($eml, 'of (.+\.eml)$').Groups[1].Value) | Should -Exist
        $Text | Should -Match '(?m)^\s+Auto-Submitted: auto-generated'
        $Text | Should -Match '(?m)^\s+Subject: Open mail relay at [a-z0-9.-]+\.omr-lab\.test'
        # -NetworkAbuse: the network owner's abuse desk, found at the lab's RDAP server, is among the recipients.
        $headers = (Get-Content -Raw ([regex]::Match($eml, 'of (.+\.eml)$').Groups[1].Value)) -replace '\r?\n[ \t]+', ' '
        $headers | Should -Match '(?m)^To: .*abuse@noc\.omr-lab\.test'
    }

    It 'shows a second run that sends nothing' {
        $table = Get-TableAfter 'nothing is sent twice'
        $rows = @($table | Select-Object -Skip 2 | Where-Object { $_ -match '^\S' })
        $rows.Count | Should -BeGreaterThan 0 -Because $Text
        foreach ($row in $rows) { $row | Should -Match '^\S+\s+Skipped\s' }
        $table -join "`n" | Should -Match 'open\.omr-lab\.test\s+Skipped\s+.*already noticed'
    }
}
