package agenttest

import "fmt"

func fmtEntry(i int, msg string) string {
	return fmt.Sprintf(`{"insertId":"id-%06d","logName":"projects/proj/logs/run.googleapis.com%%2Fstderr","severity":"ERROR","textPayload":%q,"timestamp":"2026-11-20T09:%02d:%02d.%03dZ","resource":{"type":"cloud_run_revision","labels":{"service_name":"checkout"}}}`,
		i, msg, (i/60)%60, i%60, i%1000)
}
