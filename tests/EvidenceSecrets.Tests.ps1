#Requires -Version 7.2
# Credentials never leak: a refused login with a recognisable password, against in-process fake IMAP and
# SMTP servers (no STARTTLS, -Security None). Each test first proves the password WAS sent (the server
# saw it), then looks for it in every output stream, every error (exceptions, inner exceptions,
# ToString), $Error and every file written: bundles, pickup .eml, the state file.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-OmrModule
    . (Join-Path $PSScriptRoot 'EvidenceFakeServers.ps1')
    $script:Lab = Start-OmrLab
    $script:OpenResult = Test-OpenRelay open.omr-lab.test -DnsServer $Lab.dnsServer -Port $Lab.smtpPort -TimeoutSec 20 `
        -Verify -VerifyAddress relaycheck@noc.example.net -Confirm:$false
    $script:Evidence = $OpenResult | Get-RelayEvidence -MailDrop $Lab.mailDrop -OutputPath (Join-Path $TestDrive 'ev') -WaitSec 5
    $script:User = 'canary-user'

    function script:Assert-NoSecret([string] $Text, [string] $Password, [string] $What) {
        $Text.Length | Should -BeGreaterThan 0 -Because "there must be $What to search"
        $Text.Contains($Password, [StringComparison]::Ordinal) | Should -BeFalse -Because "$What must not contain the password"
        $plain = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes("`0$User`0$Password"))
        $Text.Contains($plain, [StringComparison]::Ordinal) | Should -BeFalse -Because "$What must not contain the AUTH PLAIN response"
        $Text.Contains([Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($Password)), [StringComparison]::Ordinal) | Should -BeFalse -Because "$What must not contain the base64 password"
    }
}

AfterAll {
    Stop-OmrLab $Lab
}

Describe 'No secret leaks' -Tag Lab, Secrets {
    It 'has delivered evidence to work with' {
        $Evidence.Proof | Should -Be 'Delivered' -Because $Evidence.Reason
    }

    It 'Get-RelayEvidence: a refused IMAP login over clear text warns, and the password is in no stream, error or file' {
        $password = 'Omr-Canary-Imap-Pw-7f3a9c1e'
        $cred = [pscredential]::new($User, (ConvertTo-SecureString $password -AsPlainText -Force))
        $out = Join-Path $TestDrive 'imap-out'
        $server = [OmrTest.FakeMailServer]::StartImap()
        $Error.Clear()
        $DebugPreference = 'Continue' # the debug stream too (-Debug would prompt under -NonInteractive)
        try {
            $all = @($OpenResult | Get-RelayEvidence -MailServer 127.0.0.1 -Port $server.Port -Security None -Credential $cred -OutputPath $out `
                    -Verbose -ErrorVariable errs -WarningVariable warns -InformationVariable infos -ErrorAction Continue *>&1)
        }
        finally {
            $server.Dispose()
        }
        # Not vacuous: the server received the password.
        $server.Logins | Should -BeGreaterThan 0
        $server.Received.Contains($password, [StringComparison]::Ordinal) | Should -BeTrue -Because 'the password must really have been sent'

        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeExactly 'MailboxAuthFailed,Omr.Commands.GetRelayEvidenceCommand'
        @($warns).Count | Should -Be 1
        "$($warns[0])" | Should -BeLike "*'$User' is sent to the IMAP server 127.0.0.1:$($server.Port) over a connection that is NOT encrypted (-Security None)*"
        $ev = @($all | Where-Object { $_.PSObject.TypeNames[0] -eq 'Omr.RelayEvidence' })
        $ev.Count | Should -Be 1
        $ev[0].Delivered | Should -BeFalse
        @($all | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Count | Should -BeGreaterThan 0

        Assert-NoSecret (Get-OmrTestRecordText ($all + @($errs) + @($warns) + @($infos))) $password 'the output streams'
        Assert-NoSecret (Get-OmrTestRecordText @($Error)) $password '$Error'
        Assert-NoSecret (Get-OmrTestFileText $TestDrive) $password 'the files written'
    }

    It 'Send-RelayNotice: a refused SMTP login over clear text warns, and the password is in no stream, error, .eml or state file' {
        $password = 'Omr-Canary-Smtp-Pw-4b8d2e6a'
        $cred = [pscredential]::new($User, (ConvertTo-SecureString $password -AsPlainText -Force))
        $dir = Join-Path $TestDrive 'smtp'
        New-Item -ItemType Directory -Path $dir | Out-Null
        $server = [OmrTest.FakeMailServer]::StartSmtp()
        $Error.Clear()
        $DebugPreference = 'Continue'
        try {
            $all = @($Evidence | Send-RelayNotice -SmtpServer 127.0.0.1 -Port $server.Port -Security None -Credential $cred -From noc@example.net `
                    -To ops@customer.example -StatePath "$dir/state.json" -TimeoutSec 10 -Confirm:$false -Verbose `
                    -ErrorVariable errs -WarningVariable warns -InformationVariable infos -ErrorAction Continue *>&1)
        }
        finally {
            $server.Dispose()
        }
        $server.Logins | Should -BeGreaterThan 0
        $server.Received.Contains($password, [StringComparison]::Ordinal) | Should -BeTrue -Because 'the password must really have been sent (AUTH PLAIN, decoded)'

        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeExactly 'NoticeSendFailed,Omr.Commands.SendRelayNoticeCommand'
        $errs[0].Exception.GetType().FullName | Should -BeExactly 'MailKit.Security.AuthenticationException'
        $errs[0].CategoryInfo.Category | Should -Be 'AuthenticationError'
        "$($warns[0])" | Should -BeLike "*'$User' is sent to the SMTP server 127.0.0.1:$($server.Port) over a connection that is NOT encrypted (-Security None)*"
        $notice = @($all | Where-Object { $_.PSObject.TypeNames[0] -eq 'Omr.RelayNotice' })
        $notice.Count | Should -Be 1
        $notice[0].Status | Should -Be 'Failed'
        "$dir/state.json" | Should -Exist

        Assert-NoSecret (Get-OmrTestRecordText ($all + @($errs) + @($warns) + @($infos))) $password 'the output streams'
        Assert-NoSecret (Get-OmrTestRecordText @($Error)) $password '$Error'
        Assert-NoSecret (Get-OmrTestFileText $TestDrive) $password 'the files written'
    }

    It 'Send-RelayNotice -PickupDirectory with a credential-free run writes .eml files without any secret (control)' {
        $dir = Join-Path $TestDrive 'pickup'
        $n = $Evidence | Send-RelayNotice -PickupDirectory $dir -From noc@example.net -To ops@customer.example -Confirm:$false
        $n.Status | Should -Be 'Written' -Because $n.Reason
        # The earlier passwords are not in any file, including this new .eml.
        foreach ($pw in 'Omr-Canary-Imap-Pw-7f3a9c1e', 'Omr-Canary-Smtp-Pw-4b8d2e6a') {
            Assert-NoSecret (Get-OmrTestFileText $TestDrive) $pw 'the files written'
        }
    }
}
