#Requires -Version 7.2
# The whole service against real parts only: real DNS (dnsmasq, authoritative for omr-peer.test,
# MX records pointing at the Postfix peers), real SMTP servers (Postfix), a real mailbox (Dovecot
# IMAP), and a real SMTP server receiving the notice — scan → verify → evidence → notice, with
# contacts discovered in DNS. Everything on loopback; started by build.ps1 Test (tests/lab/peers.sh).
# Without peers these tests FAIL, unless OMR_SKIP_PEERS=1, in which case they are skipped.

BeforeDiscovery {
    $skipPeers = (-not $env:OMR_PEERS) -and ($env:OMR_SKIP_PEERS -eq '1')
}

Describe 'End to end with real DNS, Postfix and Dovecot' -Tag Peers, EndToEnd -Skip:$skipPeers {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
        $script:Peers = Get-OmrPeers
        if (-not $Peers -or -not $Peers.PSObject.Properties['dns']) {
            $why = if ($env:OMR_PEERS_ERROR) { $env:OMR_PEERS_ERROR } else { 'OMR_PEERS is not set or has no "dns" (run through build.ps1 Test)' }
            throw "The real peers are not running: $why. Set OMR_SKIP_PEERS=1 to skip these tests."
        }
        Import-OmrModule
        $script:Zone = $Peers.dns_zone
        $script:Open = Split-HostPort $Peers.open
        $script:Imap = Split-HostPort $Peers.imap
        $script:NoticePeer = Split-HostPort $Peers.notice
        $script:Dns = @{ DnsServer = $Peers.dns }
        $password = if ($env:OMR_PEER_PASSWORD) { $env:OMR_PEER_PASSWORD } else { 'omr-peer-secret-1' }
        $script:Cred = [pscredential]::new($Peers.mailbox, (ConvertTo-SecureString $password -AsPlainText -Force))
        $script:Scan = @{ Port = $Open.Port; TimeoutSec = 60 } + $Dns
    }

    It 'resolves MX through real DNS: one result per MX host, by preference, with the right verdicts' {
        $errs = $null
        $r = @(Test-OpenRelay "open.$Zone", "closed.$Zone", "backup.$Zone" @Scan -Test foreign-recipient -ErrorVariable errs)
        $errs | Should -BeNullOrEmpty
        $r.Count | Should -Be 4
        ($r | Where-Object Domain -EQ "open.$Zone").Verdict | Should -Be 'Open'
        ($r | Where-Object Domain -EQ "open.$Zone").ComputerName | Should -Be "open-mx.$Zone"
        ($r | Where-Object Domain -EQ "closed.$Zone").Verdict | Should -Be 'Closed'
        $backup = @($r | Where-Object Domain -EQ "backup.$Zone" | Sort-Object Preference)
        @($backup | ForEach-Object Preference) | Should -Be @(10, 20)
        @($backup | ForEach-Object Verdict) | Should -Be @('Closed', 'Open')
        @($backup | ForEach-Object Address) | Should -Be @($Peers.closed.Split(':')[0], $Open.Host)
    }

    It 'tests the implicit MX of a domain without MX, reports a null MX as NoMail, and errors for the rest' {
        $errs = $null
        $r = @(Test-OpenRelay "nomx.$Zone", "nullmx.$Zone", "dangling.$Zone", "nonexistent.$Zone" @Scan -Test foreign-recipient -ErrorVariable errs -ErrorAction SilentlyContinue)
        $r.Count | Should -Be 2
        ($r | Where-Object Domain -EQ "nomx.$Zone").Verdict | Should -Be 'Closed'
        ($r | Where-Object Domain -EQ "nomx.$Zone").Preference | Should -BeNullOrEmpty
        ($r | Where-Object Domain -EQ "nullmx.$Zone").Verdict | Should -Be 'NoMail'
        @($errs).Count | Should -Be 2
        ($errs | Where-Object TargetObject -EQ "dangling.$Zone").FullyQualifiedErrorId | Should -BeLike 'NoMailHost,*'
        ($errs | Where-Object TargetObject -EQ "nonexistent.$Zone").FullyQualifiedErrorId | Should -BeLike 'DomainNotFound,*'
    }

    It 'scans, proves, collects evidence over IMAP and writes the notice to the contacts found in DNS' {
        $out = Join-Path $TestDrive 'e2e'
        $evidence = @(Test-OpenRelay "open.$Zone", "closed.$Zone" @Scan -Verify -VerifyAddress $Peers.mailbox -Confirm:$false |
                Where-Object Verdict -EQ 'Open' |
                Get-RelayEvidence -MailServer $Imap.Host -Port $Imap.Port -Security StartTls -SkipCertificateCheck -Credential $Cred -WaitSec 30 -OutputPath "$out/evidence")
        $evidence.Count | Should -Be 1
        $evidence[0].Delivered | Should -BeTrue -Because $evidence[0].Reason
        $evidence[0].RelaySeen | Should -BeTrue
        $evidence[0].Domain | Should -Be "open.$Zone"

        $written = @($evidence | Send-RelayNotice -PickupDirectory "$out/pickup" -From 'noc@example.net' -StatePath "$out/state.json" @Dns -Confirm:$false)
        $written.Count | Should -Be 1
        $written[0].Status | Should -Be 'Written' -Because $written[0].Reason
        # RFC 2142 roles of the domain, and the SOA RNAME (hostmaster.omr-peer.test), whose domain has an MX.
        @($written[0].Recipients | Sort-Object) | Should -Be @("abuse@open.$Zone", "hostmaster@$Zone", "postmaster@open.$Zone")
        $written[0].EmlPath | Should -Exist

        # And a real SMTP server takes it: the notice peer delivers it to its Dovecot mailbox.
        $sent = @($evidence | Send-RelayNotice -SmtpServer $NoticePeer.Host -Port $NoticePeer.Port -SkipCertificateCheck -From 'noc@example.net' -To $Peers.notice_mailbox -Force @Dns -Confirm:$false)
        $sent[0].Status | Should -Be 'Sent' -Because $sent[0].Reason
        $needle = "<$($sent[0].MessageId.Trim('<', '>'))>"
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        do {
            $hit = Get-ChildItem (Join-Path $Peers.notice_maildir 'new'), (Join-Path $Peers.notice_maildir 'cur') -File -ErrorAction SilentlyContinue |
                Where-Object { Select-String -LiteralPath $_.FullName -SimpleMatch $needle -Quiet } | Select-Object -First 1
            if (-not $hit) { Start-Sleep -Milliseconds 300 }
        } until ($hit -or [DateTime]::UtcNow -gt $deadline)
        $hit | Should -Not -BeNullOrEmpty
        Get-Content -Raw -LiteralPath $hit.FullName | Should -Match "(?m)^Auto-Submitted: auto-generated"
    }

    It 'Invoke-RelayMonitor runs the service on real parts, the evidence over IMAP without TLS (-Security None)' {
        $root = Join-Path $TestDrive 'monitor'
        $m = @{
            StatePath = "$root/omr.db"; ReportPath = "$root/reports"; LogPath = "$root/monitor.log"
            VerifyAddress = $Peers.mailbox; MailServer = $Imap.Host; Port = $Imap.Port; Security = 'None'; Credential = $Cred; EvidenceWaitSec = 30
            EvidencePath = "$root/evidence"; PickupDirectory = "$root/pickup"; From = 'noc@example.net'
            ScanPort = $Open.Port; TimeoutSec = 60; WarningVariable = 'warnings'; WarningAction = 'SilentlyContinue'
        } + $Dns
        $run = Invoke-RelayMonitor -Domain "open.$Zone", "closed.$Zone" @m
        $run.ExitCode | Should -Be 1 -Because ($run.Errors -join '; ')
        $run.Errors.Count | Should -Be 0
        $run.Open | Should -Be 1
        $run.Verified | Should -Be 1
        $run.EvidenceCollected | Should -Be 1 -Because 'the verification message reached Dovecot and was read over plain IMAP'
        $run.NoticesSent | Should -Be 1
        @($warnings | Where-Object { "$_" -match 'clear text|not encrypted|without TLS' }).Count | Should -BeGreaterThan 0 -Because 'a password over plain IMAP is said'
        Get-Content -Raw $run.ReportPath | Should -Match ([regex]::Escape("open.$Zone"))
        Get-Content -Raw "$root/monitor.log" | Should -Not -Match ([regex]::Escape($Cred.GetNetworkCredential().Password))
        # The next run: still open, noticed already.
        $again = Invoke-RelayMonitor -Domain "open.$Zone", "closed.$Zone" @m
        $again.StillOpen | Should -Be 1
        $again.NoticesSent | Should -Be 0
        $again.Verified | Should -Be 0
    }
}
