#!/usr/bin/env python3
# Regenerates cronos_vectors.tsv from Cronos's test suite (MIT licence,
# attributed in the output), for TestCronNext_AgreesWithCronosVectors:
#   python3 gen_cronos_vectors.py CronExpressionFacts.cs cronos_vectors.tsv <commit>
# Each theory is mapped to the format, zone, kind of times and inclusiveness
# its C# body uses; theories about the H extension, equality, ToString and
# .NET argument checks are not converted.
import re, sys
src = open(sys.argv[1], encoding='utf-8-sig').read().splitlines()
E,J,LH,P,U = "America/New_York","Asia/Amman","Australia/Lord_Howe","America/Santiago","UTC"
# method -> (format, zone, fromkind, tokind, inclusive) ; inclusive None means take from args
M = {
 "GetNextOccurrence_ReturnsCorrectDate": ("6",E,"local","local",True),
 "GetNextOccurrence_HandleDST_WhenTheClockJumpsForward_And_TimeZoneIsEst": ("6",E,"inst","inst",None),
 "GetNextOccurrence_HandleDST_WhenTheClockJumpsForwardAndFromIsAroundDST": ("5",J,"inst","inst",None),
 "GetNextOccurrence_HandleDST_WhenTheClockJumpsBackwardAndFromIsAroundDST": ("5",P,"inst","inst",None),
 "GetNextOccurrence_ReturnsCorrectDate_WhenFromIsNotRoundAndZoneIsSpecified": ("5",E,"inst","inst",None),
 "GetNextOccurrence_HandleDST_WhenTheClockTurnForwardHalfHour": ("6",LH,"inst","inst",True),
 "GetNextOccurrence_HandleDST_WhenTheClockJumpsBackward": ("6",E,"inst","inst",None),
 "GetNextOccurrence_HandleDST_WhenTheClockJumpsBackwardAndDeltaIsNotHour": ("6",LH,"inst","inst",True),
 "GetNextOccurrence_ReturnsCorrectUtcDateTimeOffset": ("6",U,"local","local",True),
 "GetNextOccurrence_ReturnsCorrectDateTimeOffset": ("6",E,"inst","inst",True),
 "GetNextOccurrence_HandleDifficultDSTCases_WhenTheClockJumpsForwardOnFriday": ("5",J,"inst","inst",True),
 "GetNextOccurrence_HandleDifficultDSTCases_WhenTheClockJumpsBackwardOnFriday": ("5",J,"inst","inst",True),
 "GetNextOccurrence_ReturnsNull_WhenCronExpressionIsUnreachable": ("5",E,"local","none",True),
 "GetNextOccurrence_ReturnsNull_WhenCronExpressionIsUnreachableAndFromIsDateTime": ("5",U,"local","none",False),
 "GetNextOccurrence_ReturnsCorrectDate_WhenExpressionContains5FieldsAndInclusiveIsTrue": ("5",E,"local","local",True),
 "GetNextOccurrence_ReturnsCorrectDate_WhenExpressionIsMacros": ("5",E,"local","local",True),
 "GetNextOccurrence_ReturnsCorrectDate_WhenFromIsDateTimeOffsetAndInclusiveIsFalse": ("5",E,"local","local",False),
 "GetNextOccurrence_ReturnsCorrectDate_WhenFromIsDateTimeAndZoneIsSpecifiedAndInclusiveIsFalse": ("5",E,"local","local",False),
 "GetNextOccurrence_MakesProgressInsideLoop": ("6",E,"local","progress",True),
 "GetNextOccurrence_ReturnsCorrectDate_WhenFromIsUtcDateTimeAndInclusiveIsFalse": ("5",U,"local","local",False),
 "GetNextOccurrence_ReturnsCorrectDate_When6fieldsExpressionIsUsedAndInclusiveIsFalse": ("6",E,"local","local",False),
 "HandleWhiteSpaces": ("6",U,"const","same",True),
}
def args(s):
    out=[]; i=0
    while i < len(s):
        c=s[i]
        if c in ' ,': i+=1; continue
        if c=='"':
            j=i+1; b=''
            while s[j]!='"':
                if s[j]=='\\':
                    n=s[j+1]; b+={'t':'\t','n':'\n','\\':'\\','"':'"'}.get(n,n); j+=2
                else: b+=s[j]; j+=1
            out.append(b); i=j+1
        else:
            m=re.match(r'[A-Za-z0-9_.\-]+',s[i:]); out.append(m.group(0)); i+=len(m.group(0))
    return out
pending=[]; rows=[]; skipped={}
for ln in src:
    t=ln.strip()
    m=re.match(r'\[InlineData\((.*)\)\]\s*(//.*)?$',t)
    if m: pending.append(args(m.group(1))); continue
    m=re.match(r'public void (\w+)\(',t)
    if m:
        name=m.group(1)
        for a in pending:
            if name=="Parse_ThrowsCronFormatException_WhenCronExpressionIsInvalid":
                rows.append(("invalid",name,a[0],"6" if a[1].endswith("IncludeSeconds") else "5","","","",""))
            elif name=="Parse_DoesNotThrowAnException_WhenExpressionIsMacro":
                rows.append(("valid",name,a[0],"6" if a[1].endswith("IncludeSeconds") else "5","","","",""))
            elif name in M:
                f,z,fk,tk,inc=M[name]
                if name=="HandleWhiteSpaces":
                    rows.append(("next",name,a[0],f,z,"inst:2016-03-18 12:00:00 +00:00","true","inst:2016-03-18 12:00:00 +00:00")); continue
                incl = inc if inc is not None else (a[3]=="true")
                frm = ("local:" if fk=="local" else "inst:")+a[1]
                if tk=="none": to="none"
                elif tk=="progress": to="progress"
                else: to=("local:" if tk=="local" else "inst:")+a[2]
                rows.append(("next",name,a[0],f,z,frm,"true" if incl else "false",to))
            else:
                skipped[name]=skipped.get(name,0)+len(pending)
        pending=[]
        continue
with open(sys.argv[2],'w') as o:
    o.write("# Test vectors from Cronos (https://github.com/HangfireIO/Cronos, tests/Cronos.Tests/CronExpressionFacts.cs\n")
    o.write("# at commit %s), Copyright (c) 2017 Hangfire OÜ, used under the MIT License:\n" % sys.argv[3])
    for l in src[2:21]:
        o.write("#" + l[2:].rstrip() + "\n")
    o.write("#\n# kind\ttheory\texpression\tformat (5 or 6 fields)\tzone\tfrom\tinclusive\texpected\n")
    for r in rows:
        o.write("\t".join(x.replace("\t","\\t") for x in r)+"\n")
print(len(rows), "rows; skipped theories:", skipped, file=sys.stderr)
