#Requires -Version 7.2
# Verdicts a provider can stake a customer on, against real servers (tests/lab/peers.sh, which build.ps1
# Test starts and stops): every major MTA that Debian ships as a real peer — Postfix, and Exim,
# OpenSMTPD and Sendmail unpacked from their packages (tests/lab/mta/) — each open, closed and with the
# misconfiguration that is classic for it; the verification mailbox's own server (the Postfix 'mailbox'
# instance, MX of noc.omr-peer.test); and a Postfix that shuts the tester out. Everything they relay
# goes to the mailbox server on 127.0.0.27. Without peers these tests FAIL, unless OMR_SKIP_PEERS=1.

BeforeDiscovery {
    $skipPeers = (-not $env:OMR_PEERS) -and ($env:OMR_SKIP_PEERS -eq '1')
    # What each daemon really does with the 25 relay forms, measured with swaks first (the README's
    # "Real peers" table; the MTA's own reasons are in the comments of its configuration templates).
    $script:MtaCases = @(
        @{ Mta = 'exim'; Peer = 'open'; Verdict = 'Open'; RelayedBy = @('foreign-recipient', 'null-sender', 'local-domain-sender', 'unbracketed-recipient', 'uppercase-domain') }
        @{ Mta = 'exim'; Peer = 'closed'; Verdict = 'Closed'; RelayedBy = @() }
        @{ Mta = 'exim'; Peer = 'misconfig'; Verdict = 'Open'; RelayedBy = @('local-domain-sender') }
        @{ Mta = 'opensmtpd'; Peer = 'open'; Verdict = 'Open'; RelayedBy = @('foreign-recipient', 'null-sender', 'unqualified-sender', 'local-domain-sender', 'local-host-sender',
                'ip-literal-sender', 'percent-hack-ip', 'percent-hack-domain', 'source-route-ip', 'source-route-host', 'bang-path-ip', 'ipv4-literal-recipient', 'ipv6-literal-recipient', 'uppercase-domain') }
        @{ Mta = 'opensmtpd'; Peer = 'closed'; Verdict = 'Closed'; RelayedBy = @() }
        @{ Mta = 'opensmtpd'; Peer = 'misconfig'; Verdict = 'Open'; RelayedBy = @('unqualified-sender', 'local-domain-sender', 'local-host-sender') }
        @{ Mta = 'sendmail'; Peer = 'open'; Verdict = 'Open'; RelayedBy = @('foreign-recipient', 'null-sender', 'local-domain-sender', 'local-host-sender', 'ip-literal-sender',
                'percent-hack-ip', 'percent-hack-host', 'percent-hack-domain', 'quoted-recipient', 'quoted-percent', 'quoted-at-ip', 'quoted-at-host', 'trailing-at',
                'source-route-ip', 'source-route-host', 'bang-path', 'bang-path-ip', 'bang-path-host', 'ipv4-literal-recipient', 'ipv6-literal-recipient',
                'unbracketed-recipient', 'uppercase-domain') }
        @{ Mta = 'sendmail'; Peer = 'closed'; Verdict = 'Closed'; RelayedBy = @() }
        @{ Mta = 'sendmail'; Peer = 'misconfig'; Verdict = 'Open'; RelayedBy = @('local-host-sender', 'ip-literal-sender', 'percent-hack-ip', 'percent-hack-host',
                'quoted-recipient', 'quoted-percent', 'quoted-at-ip', 'quoted-at-host', 'source-route-ip', 'source-route-host', 'bang-path', 'bang-path-ip', 'bang-path-host') }
    )
}

Describe 'Verdicts against every major MTA as a real peer' -Tag Peers, Mta -Skip:$skipPeers {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
        $script:Peers = Get-OmrPeers
        if (-not $Peers) {
            $why = if ($env:OMR_PEERS_ERROR) { $env:OMR_PEERS_ERROR } else { 'OMR_PEERS is not set (run through build.ps1 Test)' }
            throw "The real peers are not running: $why. Set OMR_SKIP_PEERS=1 to skip these tests."
        }
        Import-OmrModule
        $password = if ($env:OMR_PEER_PASSWORD) { $env:OMR_PEER_PASSWORD } else { 'omr-peer-secret-1' }
        $script:Cred = [pscredential]::new($Peers.mailbox, (ConvertTo-SecureString $password -AsPlainText -Force))
        $script:Imap = Split-HostPort $Peers.imap
        $script:Dns = @{ DnsServer = $Peers.dns }

        function script:Get-MtaPeer([string] $Mta, [string] $Peer) {
            $m = $Peers.mta.$Mta
            if (-not $m) { throw "The $Mta peers did not start: no '$Mta' in OMR_PEERS.mta (see the peers' mta-start.log)." }
            if ($m.error) { throw "The $Mta peers did not start: $($m.error)" }
            Split-HostPort $m.$Peer
        }

        function script:Get-Evidence([object[]] $Results, [string] $Out) {
            $Results | Get-RelayEvidence -MailServer $Imap.Host -Port $Imap.Port -Security StartTls -SkipCertificateCheck -Credential $Cred `
                -WaitSec 45 -OutputPath $Out
        }
    }

    It '<Mta> <Peer>: <Verdict>, relayed by exactly the forms it really accepts' -ForEach $MtaCases {
        $p = Get-MtaPeer $Mta $Peer
        $r = Test-OpenRelay -ComputerName $p.Host -Port $p.Port -TimeoutSec 60
        $r.Verdict | Should -Be $Verdict -Because "$($r.Reason)`n$($r.TranscriptText)"
        @($r.RelayedBy | Sort-Object) | Should -Be @($RelayedBy | Sort-Object)
        if ($Verdict -eq 'Closed') {
            $r.ReasonCode | Should -Be 'AllRefused'
            @($r.Tests | Where-Object Stage -EQ 'RCPT').Count | Should -BeGreaterThan 0 -Because 'Closed needs a relay policy that was seen'
        }
        $r.Banner | Should -Match $Mta -Because 'the banner names the real MTA'
    }

    It 'each real MTA is named by its software, from its greeting or (Postfix, whose lab banner names nothing) from its replies' {
        # What the real daemons say: Exim's and Sendmail's default banners carry the version, OpenSMTPD's
        # the name only; the lab's Postfix has smtpd_banner = $myhostname ESMTP, so only its own reply
        # wording ("250 2.1.5 Ok", "Relay access denied") can tell.
        $cases = @(
            @{ Name = 'exim'; Peers = 'open', 'closed', 'misconfig'; Software = 'Exim 4.96'; Confidence = 'Version' }
            @{ Name = 'opensmtpd'; Peers = 'open', 'closed', 'misconfig'; Software = 'OpenSMTPD'; Confidence = 'Product' }
            @{ Name = 'sendmail'; Peers = 'open', 'closed', 'misconfig'; Software = 'Sendmail 8.17.1.9'; Confidence = 'Version' }
        )
        $targets = foreach ($c in $cases) { foreach ($peer in $c.Peers) { $p = Get-MtaPeer $c.Name $peer; @{ Case = $c; Host = $p.Host; Port = $p.Port } } }
        $postfix = foreach ($name in 'open', 'closed') { $p = Split-HostPort $Peers.$name; @{ Case = @{ Name = "postfix $name"; Software = 'Postfix'; Confidence = 'Inferred' }; Host = $p.Host; Port = $p.Port } }
        $results = @(Test-OpenRelay -ComputerName @($targets.Host) -Port 2525 -TimeoutSec 60)
        $results += @(Test-OpenRelay -ComputerName @($postfix.Host) -Port ($postfix[0].Port) -TimeoutSec 60)
        foreach ($t in @($targets) + @($postfix)) {
            $r = $results | Where-Object Address -EQ $t.Host
            $r | Should -Not -BeNullOrEmpty -Because "$($t.Case.Name) at $($t.Host)"
            "$($r.Software)" | Should -Be $t.Case.Software -Because "$($t.Case.Name) at $($t.Host): banner '$($r.Banner)', $($r.Software.Evidence)"
            "$($r.Software.Confidence)" | Should -Be $t.Case.Confidence -Because $r.Software.Evidence
        }
        # Saved and read back (Import-Clixml), the software stays.
        $file = Join-Path $TestDrive 'software.xml'
        $results | Export-Clixml -LiteralPath $file
        $back = @(Import-Clixml -LiteralPath $file | ForEach-Object { "$($_.Software)" })
        $back | Should -Be @($results | ForEach-Object { "$($_.Software)" })
    }

    It '-Verify proves Delivered through the real relays of every MTA, and sends nothing through the closed ones' {
        $targets = foreach ($mta in 'exim', 'opensmtpd', 'sendmail') { foreach ($peer in 'open', 'closed', 'misconfig') { (Get-MtaPeer $mta $peer).Host } }
        $results = @(Test-OpenRelay -ComputerName $targets -Port 2525 -TimeoutSec 60 -Verify -VerifyAddress $Peers.mailbox @Dns -Confirm:$false)
        $results.Count | Should -Be 9
        $open = @($results | Where-Object Verdict -EQ 'Open')
        $open.Count | Should -Be 6 -Because (($results | ForEach-Object { "$_" }) -join "`n")
        @($results | Where-Object Verdict -NE 'Open' | Where-Object VerificationMessageId) | Should -BeNullOrEmpty
        foreach ($r in $open) { $r.Proof | Should -Be 'DataAccepted' -Because "$r`n$($r.VerificationReply)" }

        $evidence = @(Get-Evidence $open (Join-Path $TestDrive 'mta-evidence'))
        $evidence.Count | Should -Be 6
        foreach ($ev in $evidence) {
            $ev.Delivered | Should -BeTrue -Because "$($ev.ComputerName): $($ev.Reason)"
            $ev.HandOff.By | Should -Be 'mailbox.omr-peer.test' -Because 'every peer hands what it relays to the mailbox server'
            $ev.HandOff.Ip | Should -Be $ev.Address -Because 'the mailbox server saw the relay connect from its own address'
        }

        # Each notice starts its fix with the software of the server it is about.
        $pickup = Join-Path $TestDrive 'mta-notices'
        # The module keeps MimeKit in its own load context: a copy for the test's own reading.
        $mime = [System.Reflection.Assembly]::LoadFrom((Join-Path (Split-Path (Get-OmrModulePath)) 'dependencies/MimeKit.dll')).GetType('MimeKit.MimeMessage')
        foreach ($ev in $evidence) {
            $n = $ev | Send-RelayNotice -From 'noc@example.net' -To 'ops@example.net' -PickupDirectory $pickup -Confirm:$false
            $n.Status | Should -Be 'Written' -Because $n.Reason
            $text = $mime::Load($n.EmlPath).TextBody -replace '\r', ''
            $fix = $text.Substring($text.IndexOf('HOW TO FIX IT'))
            $product = $ev.Result.Software.Product
            $product | Should -BeIn 'Exim', 'OpenSMTPD', 'Sendmail'
            $fix | Should -Match ('(?m)^' + [regex]::Escape($product) + ' -- for ') -Because "the notice for $($ev.ComputerName) names its $product fix"
            $fix.IndexOf("$product -- for ") | Should -BeLessThan $fix.IndexOf('Postfix:') -Because "the $product fix comes first"
        }
    }
}

Describe 'The verification mailbox''s own server, and a server that shuts the tester out (real Postfix)' -Tag Peers -Skip:$skipPeers {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
        $script:Peers = Get-OmrPeers
        if (-not $Peers) { throw 'The real peers are not running (OMR_PEERS is not set). Set OMR_SKIP_PEERS=1 to skip these tests.' }
        Import-OmrModule
        $password = if ($env:OMR_PEER_PASSWORD) { $env:OMR_PEER_PASSWORD } else { 'omr-peer-secret-1' }
        $script:Cred = [pscredential]::new($Peers.mailbox, (ConvertTo-SecureString $password -AsPlainText -Force))
        $script:Imap = Split-HostPort $Peers.imap
        $script:MailboxMx = Split-HostPort $Peers.mailbox_mx
        $script:Dns = @{ DnsServer = $Peers.dns }
        $script:VerifyDomain = $Peers.mailbox.Split('@')[1]
    }

    It 'scanning the verification mailbox''s own domain: its MX is tested with a foreign recipient, Closed, and nothing is sent' {
        $r = @(Test-OpenRelay -Domain $VerifyDomain -Port $MailboxMx.Port -TimeoutSec 60 -Verify -VerifyAddress $Peers.mailbox @Dns -Confirm:$false)
        $r.Count | Should -Be 1
        $r[0].Address | Should -Be $MailboxMx.Host
        $r[0].Verdict | Should -Be 'Closed' -Because "$($r[0].Reason)`n$($r[0].TranscriptText)"
        $r[0].Proof | Should -Be 'None'
        $r[0].VerificationMessageId | Should -BeNullOrEmpty
        @($r[0].Tests.RcptTo) | Should -Not -Contain "<$($Peers.mailbox)>"
        $r[0].Reason | Should -Match ([regex]::Escape("receives mail for $VerifyDomain"))
        ($r[0].Transcript.Text -join "`n") | Should -Match 'the relay tests use <relay-test@example\.net>'
        ($r[0].Transcript | Where-Object Direction -EQ 'C').Text | Should -Not -Contain 'DATA'
    }

    It 'the same server given by address, without DNS for its domain, turns out to be the destination and is tested again' {
        $r = Test-OpenRelay -ComputerName $MailboxMx.Host -Port $MailboxMx.Port -TimeoutSec 60 -Verify -VerifyAddress $Peers.mailbox -Confirm:$false -WarningAction SilentlyContinue
        $r.Verdict | Should -Be 'Closed' -Because "$($r.Reason)`n$($r.TranscriptText)"
        $r.VerificationMessageId | Should -BeNullOrEmpty
        $r.Reason | Should -Match 'refused to relay to <relay-test@example\.net>'
    }

    It 'a message the mailbox''s own server delivered itself is not Delivered, even when a hand-made result claims it was verified' {
        # What a verification message sent to the mailbox's own server looks like: its hop, then LMTP into Dovecot.
        $id = 'omr-' + [datetime]::UtcNow.ToString('yyyyMMdd') + '-' + [guid]::NewGuid().ToString('N').Substring(0, 20)
        $null = & swaks --server "$($MailboxMx.Host):$($MailboxMx.Port)" --from omr-probe@example.org --to $Peers.mailbox `
            --header "Subject: [Omr relay test $id]" --header "X-Omr-Probe: $id" --header "Message-ID: <$id@omr.invalid>" --body 'local' 2>&1
        $LASTEXITCODE | Should -Be 0
        $claim = [pscustomobject]@{
            ProbeId = $id; Verdict = 'Open'; Proof = 'DataAccepted'; ComputerName = "mailbox-mx.$($Peers.dns_zone)"; Address = $MailboxMx.Host; Port = $MailboxMx.Port
            VerificationMessageId = "$id@omr.invalid"; VerificationReply = '250 2.0.0 Ok: queued'; VerifyAddress = $Peers.mailbox; RelayedBy = @('foreign-recipient')
            Tests = @([pscustomobject]@{ Name = 'foreign-recipient'; MailFrom = '<omr-probe@example.org>'; RcptTo = "<$($Peers.mailbox)>"; ReplyCode = 250; MailReplyCode = 250; Accepted = $true; Stage = 'RCPT' })
        }
        $ev = $claim | Get-RelayEvidence -MailServer $Imap.Host -Port $Imap.Port -Security StartTls -SkipCertificateCheck -Credential $Cred -WaitSec 30 -OutputPath (Join-Path $TestDrive 'local')
        $ev.Delivered | Should -BeFalse
        $ev.Hops.Count | Should -BeGreaterThan 0 -Because 'the message was found'
        $ev.HandOff | Should -BeNullOrEmpty
        $ev.Proof | Should -Be 'None'
        $ev.BundlePath | Should -BeNullOrEmpty
        $ev.Reason | Should -Match 'no proof of relaying'
        $ev.Reason | Should -Match 'mailbox\.omr-peer\.test'
    }

    It 'a Postfix that shuts the tester out (check_client_access REJECT, refused at RCPT) is Inconclusive ClientRefused, never Closed' {
        $p = Split-HostPort $Peers.shutout
        $r = Test-OpenRelay -ComputerName $p.Host -Port $p.Port -TimeoutSec 60
        $r.Verdict | Should -Be 'Inconclusive' -Because "$($r.Reason)`n$($r.TranscriptText)"
        $r.ReasonCode | Should -Be 'ClientRefused'
        @($r.Tests | Where-Object Stage -EQ 'RCPT').Count | Should -BeGreaterThan 0
        ($r.Tests | Where-Object Stage -EQ 'RCPT' | Select-Object -First 1).Text | Should -Match 'Client host rejected'
        $r.Reason | Should -Match 'another address'
    }
}
