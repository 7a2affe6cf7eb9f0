#Requires -Version 7.2
# Get-RelayEvidence as a user sees it, against the in-process lab: the lab's open relay delivers
# accepted DATA into its mail-drop folder as .eml, the discard relay accepts and never delivers.
# Live, Import-Clixml and ConvertFrom-Json inputs; bundles; errors; -Remove; parameter rules.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-OmrModule
    $script:Lab = Start-OmrLab
    $script:VerifyAddress = 'relaycheck@noc.example.net'
    # One verified scan shared by the tests: open (delivers) and discard (accept-then-discard).
    $script:Results = @(Test-OpenRelay open.omr-lab.test, discard.omr-lab.test -DnsServer $Lab.dnsServer -Port $Lab.smtpPort `
            -Verify -VerifyAddress $VerifyAddress -TimeoutSec 20 -Confirm:$false)
    $script:OpenResult = $Results | Where-Object Domain -EQ 'open.omr-lab.test'
    $script:DiscardResult = $Results | Where-Object Domain -EQ 'discard.omr-lab.test'

    function script:Get-BundleText([string] $Folder) {
        Get-ChildItem -LiteralPath $Folder -File | ForEach-Object { [IO.File]::ReadAllText($_.FullName) }
    }
}

AfterAll {
    Stop-OmrLab $Lab
}

Describe 'Get-RelayEvidence with the lab mail drop' {
    It 'the scan sent one verification message through each relay' {
        $OpenResult.Verdict | Should -Be 'Open'
        $OpenResult.Proof | Should -Be 'DataAccepted' -Because $OpenResult.Reason
        $DiscardResult.Proof | Should -Be 'DataAccepted' -Because $DiscardResult.Reason
    }

    Context 'live results' {
        BeforeAll {
            $script:Out = Join-Path $TestDrive 'ev'
            $script:Evidence = @($Results | Get-RelayEvidence -MailDrop $Lab.mailDrop -OutputPath $Out -WaitSec 5 -ErrorVariable script:Errs)
            $script:Open = $Evidence | Where-Object ProbeId -EQ $OpenResult.ProbeId
            $script:Discard = $Evidence | Where-Object ProbeId -EQ $DiscardResult.ProbeId
        }

        It 'answers every input with an Omr.RelayEvidence and writes no error' {
            $Evidence.Count | Should -Be 2
            $Evidence | ForEach-Object { $_.PSObject.TypeNames[0] | Should -Be 'Omr.RelayEvidence' }
            $Errs | Should -BeNullOrEmpty
        }

        It 'finds the open relay Delivered and sets Proof' {
            $Open.Delivered | Should -BeTrue -Because $Open.Reason
            $Open.Proof | Should -Be 'Delivered'
            $Open.Result.Proof | Should -Be 'Delivered'
            $OpenResult.Proof | Should -Be 'DataAccepted' -Because 'the input object is not changed'
            $Open.MessageId | Should -Be "$($OpenResult.ProbeId)@omr.invalid"
            $Open.Subject | Should -BeLike "*$($OpenResult.ProbeId)*"
            $Open.ReceivedAt | Should -Not -BeNullOrEmpty
            $Open.ToString() | Should -BeLike '*Delivered*'
        }

        It 'parses the hops and sees the relay in them' {
            $Open.Hops.Count | Should -BeGreaterThan 0
            $Open.Hops[0].PSObject.TypeNames[0] | Should -Be 'Omr.ReceivedHop'
            $Open.RelaySeen | Should -BeTrue
            @($Open.Hops | Where-Object { $_.Ip -eq $OpenResult.Address -or $_.ByIp -eq $OpenResult.Address -or $_.By -eq $OpenResult.ComputerName }).Count |
                Should -BeGreaterThan 0
        }

        It 'writes a bundle whose message.eml is the delivered file, byte for byte' {
            $Open.BundlePath | Should -Exist
            (Split-Path -Parent $Open.BundlePath) | Should -Be (Resolve-Path $Out).Path
            $Open.Files.Count | Should -Be 4
            $Open.Files | ForEach-Object { $_ | Should -Exist }
            @($Open.Files | Split-Path -Leaf) | Should -Be @('transcript.log', 'message.eml', 'report.html', 'evidence.json')
            $eml = Join-Path $Open.BundlePath 'message.eml'
            $dropped = Get-ChildItem -LiteralPath $Lab.mailDrop -Filter *.eml | Where-Object { (Get-Content -Raw -LiteralPath $_.FullName) -match [regex]::Escape($OpenResult.ProbeId) }
            $dropped | Should -Not -BeNullOrEmpty
            (Get-FileHash -LiteralPath $eml).Hash | Should -Be (Get-FileHash -LiteralPath $dropped[0].FullName).Hash
            $text = Get-Content -Raw -LiteralPath $eml
            $text | Should -Match "(?m)^X-Omr-Probe: $([regex]::Escape($OpenResult.ProbeId))\r?$"
            $text | Should -Match '(?m)^Received: from '
        }

        It 'parses message.eml with MimeKit from the module dependencies' {
            $mimekit = Join-Path (Split-Path -Parent (Get-OmrModulePath)) 'dependencies/MimeKit.dll'
            $mimekit | Should -Exist
            # Loaded in a separate load context so it cannot collide with the module's own copy.
            $alc = [System.Runtime.Loader.AssemblyLoadContext]::new('omr-evidence-test', $true)
            try {
                $alc.LoadFromAssemblyPath((Join-Path (Split-Path -Parent $mimekit) 'BouncyCastle.Cryptography.dll')) | Out-Null
                $asm = $alc.LoadFromAssemblyPath($mimekit)
                $type = $asm.GetType('MimeKit.MimeMessage')
                $load = $type.GetMethod('Load', [Type[]]@([string], [System.Threading.CancellationToken]))
                $msg = $load.Invoke($null, @([string](Join-Path $Open.BundlePath 'message.eml'), [System.Threading.CancellationToken]::None))
                $msg.MessageId | Should -Be "$($OpenResult.ProbeId)@omr.invalid"
                $msg.Subject | Should -BeLike "*$($OpenResult.ProbeId)*"
            }
            finally { $alc.Unload() }
        }

        It 'writes evidence.json with correct SHA-256 hashes' {
            $json = Get-Content -Raw -LiteralPath (Join-Path $Open.BundlePath 'evidence.json') | ConvertFrom-Json
            $json.probeId | Should -Be $OpenResult.ProbeId
            $json.delivered | Should -BeTrue
            $json.proof | Should -Be 'Delivered'
            $json.result.address | Should -Be $OpenResult.Address
            @($json.tests).Count | Should -Be @($OpenResult.Tests).Count
            @($json.hops).Count | Should -Be $Open.Hops.Count
            foreach ($f in $json.files) {
                (Get-FileHash -Algorithm SHA256 -LiteralPath (Join-Path $Open.BundlePath $f.name)).Hash.ToLowerInvariant() | Should -Be $f.sha256
            }
        }

        It 'writes the transcript one entry per line and a readable report' {
            $lines = @(Get-Content -LiteralPath (Join-Path $Open.BundlePath 'transcript.log'))
            $lines.Count | Should -Be @($OpenResult.Transcript).Count
            $html = Get-Content -Raw -LiteralPath (Join-Path $Open.BundlePath 'report.html')
            $html | Should -BeLike "*$($OpenResult.ProbeId)*"
            $html | Should -Not -Match '<script'
        }

        It 'keeps the discard relay at DataAccepted with a reason and no bundle' {
            $Discard.Delivered | Should -BeFalse
            $Discard.Proof | Should -Be 'DataAccepted'
            $Discard.Reason | Should -BeLike '*accept-then-discard*'
            $Discard.Reason | Should -BeLike '* after waiting 5 s; *'
            $Discard.Files | Should -BeNullOrEmpty
            $Discard.BundlePath | Should -BeNullOrEmpty
        }
    }

    Context 're-imported results' {
        It 'works after Export-Clixml / Import-Clixml' {
            $xml = Join-Path $TestDrive 'results.xml'
            $Results | Export-Clixml -LiteralPath $xml
            $imported = Import-Clixml -LiteralPath $xml
            $imported[0].PSObject.TypeNames[0] | Should -Be 'Deserialized.Omr.RelayTestResult'
            $ev = @($imported | Get-RelayEvidence -MailDrop $Lab.mailDrop -OutputPath (Join-Path $TestDrive 'clixml') -ErrorAction Stop)
            $ev.Count | Should -Be 2
            $open = $ev | Where-Object ProbeId -EQ $OpenResult.ProbeId
            $open.Delivered | Should -BeTrue
            $open.Result.Verdict | Should -Be 'Open'
            $open.Result.Port | Should -Be $OpenResult.Port
            @($open.Result.Tests).Count | Should -Be @($OpenResult.Tests).Count
            $open.Files.Count | Should -Be 4
            ($ev | Where-Object ProbeId -EQ $DiscardResult.ProbeId).Delivered | Should -BeFalse
        }

        It 'works after ConvertTo-Json / ConvertFrom-Json (enums as numbers or names)' {
            $numbers = $Results | ConvertTo-Json -Depth 6 | ConvertFrom-Json
            $names = $Results | ConvertTo-Json -Depth 6 -EnumsAsStrings | ConvertFrom-Json
            foreach ($set in @(, $numbers) + @(, $names)) {
                $ev = @($set | Get-RelayEvidence -MailDrop $Lab.mailDrop -ErrorAction Stop)
                $ev.Count | Should -Be 2
                ($ev | Where-Object ProbeId -EQ $OpenResult.ProbeId).Delivered | Should -BeTrue
                $d = $ev | Where-Object ProbeId -EQ $DiscardResult.ProbeId
                $d.Delivered | Should -BeFalse
                $d.Proof | Should -Be 'DataAccepted'
                $d.Result.StartTime.Year | Should -Be $DiscardResult.StartTime.Year
            }
        }
    }

    Context 'evidence as input' {
        It 'accepts RelayEvidence (live or re-imported) and looks again for its result' {
            $ev = $OpenResult | Get-RelayEvidence -MailDrop $Lab.mailDrop
            $again = $ev | Get-RelayEvidence -MailDrop $Lab.mailDrop -ErrorAction Stop
            $again.ProbeId | Should -Be $OpenResult.ProbeId
            $again.Delivered | Should -BeTrue
            $xml = Join-Path $TestDrive 'evidence.xml'
            $ev | Export-Clixml -LiteralPath $xml -Depth 4
            (Import-Clixml -LiteralPath $xml | Get-RelayEvidence -MailDrop $Lab.mailDrop -ErrorAction Stop).Delivered | Should -BeTrue
        }
    }

    Context 'inputs that are not searched' {
        It 'answers a result without a verification message, without an error' {
            $plain = Test-OpenRelay open.omr-lab.test -DnsServer $Lab.dnsServer -Port $Lab.smtpPort -TimeoutSec 20
            $ev = $plain | Get-RelayEvidence -MailDrop $Lab.mailDrop -ErrorVariable errs
            $errs | Should -BeNullOrEmpty
            $ev.Delivered | Should -BeFalse
            $ev.Reason | Should -BeLike '*no verification message was sent (Proof is RecipientAccepted)*'
        }

        It 'reports an object that is not a result as InvalidResultObject and goes on' {
            $ev = @([pscustomobject]@{ Name = 'x' }, $OpenResult | Get-RelayEvidence -MailDrop $Lab.mailDrop -ErrorVariable errs -ErrorAction SilentlyContinue)
            $errs.Count | Should -Be 1
            $errs[0].FullyQualifiedErrorId | Should -BeLike 'InvalidResultObject,*'
            $errs[0].CategoryInfo.Category | Should -Be 'InvalidData'
            $errs[0].TargetObject.Name | Should -Be 'x'
            $ev.Count | Should -Be 1
        }
    }

    Context 'errors' {
        It 'a missing mail drop gives one MailboxFolderNotFound error and still one answer per input' {
            $ev = @($Results | Get-RelayEvidence -MailDrop (Join-Path $TestDrive 'no-such-drop') -ErrorVariable errs -ErrorAction SilentlyContinue)
            $errs.Count | Should -Be 1
            $errs[0].FullyQualifiedErrorId | Should -BeLike 'MailboxFolderNotFound,*'
            $errs[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $ev.Count | Should -Be 2
            $ev | ForEach-Object { $_.Delivered | Should -BeFalse; $_.Reason | Should -BeLike '*could not be read*' }
        }

        It 'an unreachable IMAP server gives MailboxConnectFailed' {
            $cred = [pscredential]::new('someone', (ConvertTo-SecureString 'unused' -AsPlainText -Force))
            $ev = @($OpenResult | Get-RelayEvidence -MailServer 127.0.0.1 -Port 9 -Security None -Credential $cred -ErrorVariable errs -ErrorAction SilentlyContinue)
            $errs.Count | Should -Be 1
            $errs[0].FullyQualifiedErrorId | Should -BeExactly 'MailboxConnectFailed,Omr.Commands.GetRelayEvidenceCommand'
            $errs[0].CategoryInfo.Category | Should -Be 'ConnectionError'
            $ev.Count | Should -Be 1
            $ev[0].Delivered | Should -BeFalse
        }

        It 'a refused IMAP login gives MailboxAuthFailed, after the secret was really sent, and no secret in the error' {
            # The old version of this test used an unreachable server: the password was never sent, so it proved nothing.
            . (Join-Path $PSScriptRoot 'EvidenceFakeServers.ps1')
            $secret = 'Sup3r-Secret-Pw-Used'
            $cred = [pscredential]::new('someone', (ConvertTo-SecureString $secret -AsPlainText -Force))
            $server = [OmrTest.FakeMailServer]::StartImap()
            try {
                $ev = @($OpenResult | Get-RelayEvidence -MailServer 127.0.0.1 -Port $server.Port -Security None -Credential $cred `
                        -ErrorVariable errs -WarningVariable warns -ErrorAction SilentlyContinue -WarningAction SilentlyContinue)
            }
            finally {
                $server.Dispose()
            }
            $server.Received.Contains($secret, [StringComparison]::Ordinal) | Should -BeTrue -Because 'the password must have been sent for this test to mean anything'
            $errs.Count | Should -Be 1
            $errs[0].FullyQualifiedErrorId | Should -BeExactly 'MailboxAuthFailed,Omr.Commands.GetRelayEvidenceCommand'
            $errs[0].CategoryInfo.Category | Should -Be 'SecurityError'
            "$($warns[0])" | Should -BeLike '*NOT encrypted (-Security None)*'
            ($errs[0] | Out-String) + $errs[0].Exception.ToString() + "$($errs[0].ErrorDetails)" | Should -Not -BeLike "*$secret*"
            $ev.Count | Should -Be 1
            $ev[0].Delivered | Should -BeFalse
            $ev[0].Reason | Should -BeLike '*refused the credential*'
            $ev[0].Reason | Should -Not -BeLike "*$secret*"
        }

        It '-MoveTo with a mail drop or POP3 is refused with a clear message' {
            { $OpenResult | Get-RelayEvidence -MailDrop $Lab.mailDrop -MoveTo Archive -ErrorAction Stop } | Should -Throw '*needs an IMAP mailbox*' -ErrorId 'MoveToNeedsImap,Omr.Commands.GetRelayEvidenceCommand'
            $cred = [pscredential]::new('u', (ConvertTo-SecureString 'p' -AsPlainText -Force))
            { $OpenResult | Get-RelayEvidence -MailServer localhost -Protocol Pop3 -Credential $cred -MoveTo Archive -ErrorAction Stop } | Should -Throw '*POP3 has no folders*' -ErrorId 'MoveToNeedsImap,Omr.Commands.GetRelayEvidenceCommand'
        }
    }

    Context '-Remove' {
        It 'honours -WhatIf, then deletes only the matched message' {
            $r = @(Test-OpenRelay open.omr-lab.test -DnsServer $Lab.dnsServer -Port $Lab.smtpPort -Verify -VerifyAddress $VerifyAddress -TimeoutSec 20 -Confirm:$false)
            $find = { @(Get-ChildItem -LiteralPath $Lab.mailDrop -Filter *.eml | Where-Object { (Get-Content -Raw -LiteralPath $_.FullName) -match [regex]::Escape($r[0].ProbeId) }) }
            $ev = $r | Get-RelayEvidence -MailDrop $Lab.mailDrop -WaitSec 5 -Remove -WhatIf
            $ev.Delivered | Should -BeTrue
            (& $find).Count | Should -Be 1
            $others = @(Get-ChildItem -LiteralPath $Lab.mailDrop -Filter *.eml).Count
            $ev = $r | Get-RelayEvidence -MailDrop $Lab.mailDrop -Remove -Confirm:$false
            $ev.Delivered | Should -BeTrue
            (& $find).Count | Should -Be 0
            @(Get-ChildItem -LiteralPath $Lab.mailDrop -Filter *.eml).Count | Should -Be ($others - 1)
        }
    }

    Context 'the cmdlet' {
        It 'is exported, with OutputType and the documented parameters' {
            $cmd = Get-Command Get-RelayEvidence -Module Omr
            $cmd.OutputType.Name | Should -Contain 'Omr.RelayEvidence'
            $cmd.DefaultParameterSet | Should -Be 'Mailbox'
            foreach ($p in 'InputObject', 'MailServer', 'Port', 'Protocol', 'Security', 'SkipCertificateCheck', 'Credential', 'Folder', 'WaitSec', 'MailDrop', 'OutputPath', 'Remove', 'MoveTo', 'WhatIf', 'Confirm') {
                $cmd.Parameters.Keys | Should -Contain $p
            }
            $cmd.Parameters['InputObject'].Aliases | Should -Contain 'Result'
        }
    }
}
