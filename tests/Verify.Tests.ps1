#Requires -Version 7.2
# Test-OpenRelay -Verify as a user sees it: one message per open address, only with consent
# (-WhatIf / -Confirm), never through a closed server; and Ctrl+C stops network work at once.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-OmrModule
    $script:Lab = Start-OmrLab
    $script:P = @{ DnsServer = $Lab.dnsServer; Port = $Lab.smtpPort; TimeoutSec = 10 }
    $script:VerifyAddress = 'relaycheck@noc.example.net'
    function script:Get-DropCount { @(Get-ChildItem -LiteralPath $Lab.mailDrop -Filter *.eml -File).Count }
}

AfterAll {
    Stop-OmrLab $Lab
}

Describe 'Test-OpenRelay -Verify' -Tag Lab, Verify {
    It 'needs -VerifyAddress' {
        { Test-OpenRelay open.omr-lab.test @P -Verify } | Should -Throw -ErrorId 'VerifyAddressMissing,*'
    }

    It 'with -WhatIf says what it would send, and sends nothing' {
        $before = Get-DropCount
        $results = @(Test-OpenRelay open.omr-lab.test @P -Verify -VerifyAddress $VerifyAddress -WhatIf)
        $results.Count | Should -Be 1
        $results[0].Proof | Should -Be 'RecipientAccepted'
        $results[0].VerificationMessageId | Should -BeNullOrEmpty
        $results[0].Transcript.Text | Should -Not -Contain 'DATA'
        Get-DropCount | Should -Be $before
        # What -WhatIf prints goes to the host: read it from a child pwsh's output.
        $script = "Import-Module '$(Get-OmrModulePath)'; `$null = Test-OpenRelay open.omr-lab.test -DnsServer $($Lab.dnsServer) -Port $($Lab.smtpPort) -TimeoutSec 10 -Verify -VerifyAddress $VerifyAddress -WhatIf"
        Push-Location (Split-Path -Parent $PSScriptRoot)
        try { $said = (& dotnet pwsh -NoProfile -NonInteractive -Command $script 2>&1) -join "`n" }
        finally { Pop-Location }
        $said | Should -Match ([regex]::Escape("What if: Performing the operation ""Send one verification message to $VerifyAddress through relay test 'foreign-recipient'"))
        Get-DropCount | Should -Be $before
    }

    It 'sends exactly one message per open address, carrying the probe id, and none through a closed one' {
        $before = @(Get-ChildItem -LiteralPath $Lab.mailDrop -Filter *.eml -File).FullName
        $results = @(Test-OpenRelay open.omr-lab.test, closed.omr-lab.test, backup.omr-lab.test @P -Verify -VerifyAddress $VerifyAddress -Confirm:$false)
        $results.Count | Should -Be 4
        $open = @($results | Where-Object Verdict -EQ 'Open')
        $open.Count | Should -Be 2
        foreach ($r in $results) {
            $data = @($r.Transcript | Where-Object { $_.Direction -eq 'C' -and $_.Text -eq 'DATA' })
            if ($r.Verdict -eq 'Open') {
                $data.Count | Should -Be 1
                $r.Proof | Should -Be 'DataAccepted'
                $r.VerificationMessageId | Should -Be "$($r.ProbeId)@omr.invalid"
            }
            else {
                $data.Count | Should -Be 0
                $r.Proof | Should -Be 'None'
            }
        }
        $new = @(Get-ChildItem -LiteralPath $Lab.mailDrop -Filter *.eml -File | Where-Object FullName -NotIn $before)
        $new.Count | Should -Be 2
        foreach ($r in $open) {
            @($new | Where-Object { (Get-Content -Raw -LiteralPath $_.FullName).Contains("X-Omr-Probe: $($r.ProbeId)") }).Count | Should -Be 1
        }
    }

    It 'never sends the message through the verification mailbox''s own servers: they are tested with a recipient foreign to them' {
        $before = Get-DropCount
        $mailbox = 'relaycheck@noc.omr-lab.test'
        $results = @(Test-OpenRelay noc.omr-lab.test @P -Verify -VerifyAddress $mailbox -Confirm:$false -WarningVariable warned)
        $warned | Should -BeNullOrEmpty -Because 'the lab DNS knows the mailbox domain'
        $results.Count | Should -Be 2
        $own = $results | Where-Object ComputerName -EQ 'mailbox.mx.omr-lab.test'
        $own.Verdict | Should -Be 'Closed' -Because $own.Reason
        $backup = $results | Where-Object ComputerName -EQ 'mailbox-backup.mx.omr-lab.test'
        $backup.Verdict | Should -Be 'Open'
        $backup.ReasonCode | Should -Be 'RecipientLocal'
        $backup.Proof | Should -Be 'RecipientAccepted'
        $backup.VerificationMessageId | Should -BeNullOrEmpty
        foreach ($r in $results) {
            $r.Transcript.Text | Should -Not -Contain 'DATA'
            @($r.Tests.RcptTo) | Should -Not -Contain "<$mailbox>"
            ($r.Transcript.Text -join "`n") | Should -Match 'the relay tests use <relay-test@example\.net>'
        }
        Get-DropCount | Should -Be $before
        $ev = $backup | Get-RelayEvidence -MailDrop $Lab.mailDrop
        $ev.Delivered | Should -BeFalse
        $ev.Reason | Should -Match 'RecipientLocal'
    }

    It 'warns once when the verification mailbox''s domain has no mail hosts to compare with' {
        $null = Test-OpenRelay closed.omr-lab.test, open.omr-lab.test @P -Verify -VerifyAddress $VerifyAddress -WhatIf -WarningVariable warned 3>$null
        @($warned).Count | Should -Be 1
        "$($warned[0])" | Should -Match 'noc\.example\.net, the -VerifyAddress domain, are not known'
    }

    It 'with -ProbeRecipient given, still sends the message to -VerifyAddress through the accepted variant' {
        $r = Test-OpenRelay vuln-bang-path.omr-lab.test @P -Verify -VerifyAddress $VerifyAddress -ProbeRecipient 'someone@example.net' -Confirm:$false
        $r.RelayedBy | Should -Be @('bang-path')
        $r.VerifiedWith | Should -Be 'bang-path'
        $r.Transcript.Text | Should -Contain 'RCPT TO:<noc.example.net!relaycheck>'
        $r.Proof | Should -Be 'DataAccepted'
    }
}

Describe 'Stopping' -Tag Lab, Stop {
    It 'Ctrl+C (StopProcessing) ends a scan of slow servers at once, not at their deadline' {
        # One command in a runspace that already has the module (no batch: a batch's next statement
        # can still be scheduled after Stop(), on a runspace that is closing, and crash the process).
        $iss = [System.Management.Automation.Runspaces.InitialSessionState]::CreateDefault()
        $iss.ImportPSModule([string[]]@(Get-OmrModulePath))
        $rs = [runspacefactory]::CreateRunspace($iss)
        $rs.Open()
        $ps = [powershell]::Create()
        $ps.Runspace = $rs
        try {
            $null = $ps.AddCommand('Test-OpenRelay').AddParameter('Domain', @('tarpit.omr-lab.test', 'open.omr-lab.test')).
                AddParameter('DnsServer', $Lab.dnsServer).AddParameter('Port', $Lab.smtpPort).AddParameter('TimeoutSec', 120)
            $handle = $ps.BeginInvoke()
            Start-Sleep -Milliseconds 1500
            $ps.InvocationStateInfo.State | Should -Be 'Running'
            $sw = [Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $sw.Stop()
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
            $sw.Elapsed.TotalSeconds | Should -BeLessThan 5
            try { $null = $ps.EndInvoke($handle) } catch [System.Management.Automation.PipelineStoppedException] { }
        }
        finally { $ps.Dispose(); $rs.Dispose() }
    }
}
