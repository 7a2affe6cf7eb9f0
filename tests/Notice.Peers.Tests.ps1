#Requires -Version 7.2
# Send-RelayNotice through a real SMTP server: the "notice" Postfix peer (tests/lab/peers.sh), which
# accepts mail for anyone and delivers all of it to notices@noc.omr-peer.test (Dovecot Maildir).
# The delivered file is read back and checked: MIME structure, attachments, ARF, headers.
# Endpoints come from OMR_PEERS (build.ps1 Test); run by hand, the peers' fixed defaults are used
# when 'bash tests/lab/peers.sh status' says they are up. Without peers these tests FAIL, unless
# OMR_SKIP_PEERS=1, in which case they are skipped.

BeforeDiscovery {
    $skipPeers = (-not $env:OMR_PEERS) -and ($env:OMR_SKIP_PEERS -eq '1')
}

Describe 'Send-RelayNotice through a real Postfix' -Tag Peers, Notice -Skip:$skipPeers {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
        $script:Peers = Get-OmrPeers
        if (-not $Peers) {
            & bash (Join-Path $PSScriptRoot 'lab/peers.sh') status *> $null
            if ($LASTEXITCODE -eq 0) {
                $script:Peers = [pscustomobject]@{
                    notice         = '127.0.0.25:2525'
                    notice_mailbox = 'notices@noc.omr-peer.test'
                    notice_maildir = '/tmp/omr-peers/mail/noc.omr-peer.test/notices/Maildir'
                }
            }
        }
        if (-not $Peers -or -not $Peers.PSObject.Properties['notice']) {
            $why = if ($env:OMR_PEERS_ERROR) { $env:OMR_PEERS_ERROR } else { 'OMR_PEERS is not set and peers.sh status fails (run: bash tests/lab/peers.sh start)' }
            throw "The notice Postfix peer is not running: $why. Set OMR_SKIP_PEERS=1 to skip these tests."
        }
        Import-OmrModule
        $script:NoticePeer = Split-HostPort $Peers.notice
        $script:Mailbox = $Peers.notice_mailbox
        $script:Maildir = $Peers.notice_maildir

        $script:Lab = Start-OmrLab
        $script:Evidence = Test-OpenRelay open.omr-lab.test -DnsServer $Lab.dnsServer -Port $Lab.smtpPort -TimeoutSec 20 -Verify -VerifyAddress relaycheck@noc.example.net -Confirm:$false |
            Get-RelayEvidence -MailDrop $Lab.mailDrop -OutputPath (Join-Path $TestDrive 'ev') -WaitSec 5
        $script:Smtp = @{ SmtpServer = $NoticePeer.Host; Port = $NoticePeer.Port; From = 'noc@example.net'; To = $Mailbox; Confirm = $false; TimeoutSec = 30 }

        function script:Get-MimeMessageType {
            $mimeKit = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'MimeKit' } | Select-Object -First 1
            if (-not $mimeKit) { $mimeKit = [System.Reflection.Assembly]::LoadFrom((Join-Path (Split-Path (Get-OmrModulePath)) 'dependencies/MimeKit.dll')) }
            $mimeKit.GetType('MimeKit.MimeMessage')
        }

        function script:Wait-Delivered([string] $MessageId, [int] $TimeoutSec = 30) {
            # The delivered file is found by its Message-ID in new/ or cur/.
            $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
            $needle = "<$MessageId>"
            do {
                foreach ($sub in 'new', 'cur') {
                    $dir = Join-Path $Maildir $sub
                    if (-not (Test-Path $dir)) { continue }
                    $hit = Get-ChildItem $dir -File | Where-Object { Select-String -LiteralPath $_.FullName -SimpleMatch $needle -Quiet } | Select-Object -First 1
                    if ($hit) { return (Get-MimeMessageType)::Load($hit.FullName) }
                }
                Start-Sleep -Milliseconds 300
            } while ([DateTime]::UtcNow -lt $deadline)
            throw "No message with Message-ID $needle arrived in $Maildir within $TimeoutSec s."
        }
    }

    AfterAll {
        Stop-OmrLab $Lab
    }

    It 'has delivered evidence to send' {
        $Evidence.Proof | Should -Be 'Delivered' -Because $Evidence.Reason
    }

    It 'sends a text notice without TLS; it arrives with both alternatives and the three attachments' {
        $n = $Evidence | Send-RelayNotice @Smtp -Security None
        $n.Status | Should -Be 'Sent' -Because $n.Reason
        $n.SmtpReply | Should -Match 'queued|Ok'
        $m = Wait-Delivered $n.MessageId
        $m.Headers['Auto-Submitted'] | Should -Be 'auto-generated'
        $m.Headers['X-Omr-Notice'] | Should -Not -BeNullOrEmpty
        $m.Subject | Should -Be $n.Subject
        $m.TextBody | Should -Match 'WHAT WE FOUND'
        $m.HtmlBody | Should -Match '<h2>How to fix it</h2>'
        @($m.Attachments | ForEach-Object { $_.ContentType.MimeType }) | Should -Be @('text/plain', 'message/rfc822', 'application/json')
        ($m.Attachments | Where-Object { $_.ContentType.MimeType -eq 'message/rfc822' }).Message.MessageId | Should -Be $Evidence.MessageId
    }

    It 'sends over STARTTLS with -SkipCertificateCheck' {
        $n = $Evidence | Send-RelayNotice @Smtp -Security StartTls -SkipCertificateCheck
        $n.Status | Should -Be 'Sent' -Because $n.Reason
        $m = Wait-Delivered $n.MessageId
        # Postfix's own Received header (below Dovecot's LMTP one) records the TLS session.
        (@($m.Headers | Where-Object Field -EQ 'Received' | ForEach-Object Value) -join "`n") | Should -Match 'with ESMTPS'
    }

    It 'sends an RFC 5965 report with -Format Arf' {
        $n = $Evidence | Send-RelayNotice @Smtp -Security None -Format Arf -FeedbackType other
        $n.Status | Should -Be 'Sent' -Because $n.Reason
        $m = Wait-Delivered $n.MessageId
        $m.Body.ContentType.MimeType | Should -Be 'multipart/report'
        $m.Body.ContentType.Parameters['report-type'] | Should -Be 'feedback-report'
        $m.Body[0].ContentType.MimeType | Should -Be 'text/plain'
        $report = $m.Body[1]
        $report.ContentType.MimeType | Should -Be 'message/feedback-report'
        $report.Fields['Feedback-Type'] | Should -Be 'other'
        $report.Fields['User-Agent'] | Should -Be 'Omr/0.1'
        $report.Fields['Version'] | Should -Be '1'
        $report.Fields['Source-IP'] | Should -Be $Evidence.Address
        $report.Fields['Reported-Domain'] | Should -Be 'open.omr-lab.test'
        $report.Fields['Original-Rcpt-To'] | Should -Be '<relaycheck@noc.example.net>'
        $m.Body[2].ContentType.MimeType | Should -Be 'message/rfc822'
        $m.Headers['Auto-Submitted'] | Should -Be 'auto-generated'
    }

    It 'a hostile banner and reply texts change no header and add no recipient' {
        $e = $Evidence | ConvertTo-Json -Depth 6 | ConvertFrom-Json
        $e.Result.Banner = "evil.example ESMTP`r`nBcc: victim@example.com`r`nSubject: pwned`r`n`r`n<script>x</script>"
        $e.Result.VerificationReply = "250 ok`nX-Injected: yes"
        $e.ComputerName = "open.mx.omr-lab.test`r`nCc: victim2@example.com"
        $n = $e | Send-RelayNotice @Smtp -Security None
        $n.Status | Should -Be 'Sent' -Because $n.Reason
        $m = Wait-Delivered $n.MessageId
        $fields = @($m.Headers | ForEach-Object Field)
        $fields | Should -Not -Contain 'Bcc'
        $fields | Should -Not -Contain 'X-Injected'
        @($fields | Where-Object { $_ -eq 'Subject' }).Count | Should -Be 1
        @($m.To.Mailboxes.Address) | Should -Be @($Mailbox)
        @($m.Cc.Mailboxes).Count | Should -Be 0
        $m.Subject | Should -Not -Match "`r|`n"
        $m.TextBody | Should -Match 'evil\.example ESMTP Bcc: victim@example\.com Subject: pwned'
        $m.HtmlBody | Should -Not -Match '<script>'
    }
}
