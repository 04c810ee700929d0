package cron

import "testing"

func TestDescribe_PlainEnglish(t *testing.T) {
	tests := []struct{ expr, want string }{
		// The examples of the API contract and the task.
		{"0 2 * * 1-5", "At 02:00, Monday through Friday"},
		{"*/15 * * * *", "Every 15 minutes"},
		{"0 0 L * *", "At 00:00 on the last day of the month"},
		{"0 0 13 * FRI", "At 00:00 on day 13 of the month, only on Friday"},

		{"* * * * *", "Every minute"},
		{"* * * * * *", "Every second"},
		{"*/10 * * * * *", "Every 10 seconds"},
		{"0 */5 * * * *", "Every 5 minutes"},
		{"30 * * * * *", "At 30 seconds past the minute"},
		{"* 30 * * * *", "Every second, at 30 minutes past the hour"},
		{"0 * * * *", "Every hour"},
		{"30 * * * *", "At 30 minutes past the hour"},
		{"0 */2 * * *", "Every 2 hours"},
		{"30 */2 * * *", "At 30 minutes past the hour, every 2 hours"},
		{"*/5 9-17 * * *", "Every 5 minutes, between 09:00 and 17:59"},
		{"* 3 * * *", "Every minute, between 03:00 and 03:59"},
		{"0 9-17 * * *", "Every hour from 09:00 to 17:00"},
		{"30 8-18/2 * * *", "Every 2 hours from 08:30 to 18:30"},
		{"0 2,14 * * *", "At 02:00 and 14:00"},
		{"0,30 9 * * *", "At 09:00 and 09:30"},
		{"15 30 6 * * *", "At 06:30:15"},
		{"0,15,30,45 * * * *", "At minutes 0, 15, 30 and 45 past the hour"},
		{"0-9 * * * *", "At minutes 0 through 9 past the hour"},
		{"5/15 * * * *", "Every 15 minutes from 5 through 50 past the hour"},
		{"10-40/10 * * * *", "Every 10 minutes from 10 through 40 past the hour"},
		{"0,5-10/5,30 * * * *", "At minutes 0, every 5th from 5 through 10 and 30 past the hour"},
		{"0 1/3 * * *", "Every 3 hours from 01:00 to 22:00"},
		{"0 22-2 * * *", "Every hour from 22:00 to 02:00"},
		{"15 22-4/2 * * *", "Every 2 hours from 22:15 to 04:15"},
		{"* 2,5,8 * * *", "Every minute, during the hours 02:00, 05:00 and 08:00"},
		{"*/10 * * * 1-5", "Every 10 minutes, Monday through Friday"},
		{"0 0 30 1 1-5", "At 00:00 on day 30 of the month, Monday through Friday, only in January"},
		{"0 0 1,15 * *", "At 00:00 on days 1 and 15 of the month"},
		{"0 0 1-7 * *", "At 00:00 on days 1 through 7 of the month"},
		{"0 0 */2 * *", "At 00:00 on every 2nd day of the month"},
		{"0 0 L-3 * *", "At 00:00 on the day 3 days before the last day of the month"},
		{"0 0 15W * *", "At 00:00 on the weekday nearest day 15 of the month"},
		{"0 0 LW * *", "At 00:00 on the last weekday of the month"},
		{"0 0 1,L * *", "At 00:00 on day 1 and the last day of the month"},
		{"0 0 * * 5L", "At 00:00, on the last Friday of the month"},
		{"0 0 * * SAT#3", "At 00:00, on the third Saturday of the month"},
		{"0 0 * * MON,WED,FRI", "At 00:00, only on Monday, Wednesday and Friday"},
		{"0 0 * * FRI-MON", "At 00:00, Friday through Monday"},
		{"0 0 * * 0,7", "At 00:00, only on Sunday"},
		{"0 0 1 1 *", "At 00:00 on day 1 of the month, only in January"},
		{"0 0 1 DEC-FEB *", "At 00:00 on day 1 of the month, December through February"},
		{"0 0 1 */3 *", "At 00:00 on day 1 of the month, only in January, April, July and October"},
		{"0 0 * * 0-7", "At 00:00"},
		{"0 0 * 1-12 *", "At 00:00"},
		{"0 0 L-1 * *", "At 00:00 on the day before the last day of the month"},
		{"0 0 1,L-2 * *", "At 00:00 on day 1 and the day 2 days before the last day of the month"},
		{"0 0 L-2W * *", "At 00:00 on the weekday nearest the day 2 days before the last day of the month"},
		{"0 0 l-1w * *", "At 00:00 on the weekday nearest the day before the last day of the month"},
		{"0 0 * * MON,5L", "At 00:00, only on Monday or on the last Friday of the month"},
		{"* * * * SUN#1,SAT#5", "Every minute, on the first Sunday and the fifth Saturday of the month"},
		{"*/5 8-18/2 * * *", "Every 5 minutes, during every 2nd hour from 08:00 to 18:59"},
		{"30 5 * * * *", "At 5 minutes and 30 seconds past the hour"},
		{"5 4 3 2 1 0", "At 03:04:05 on day 2 of the month, only on Sunday, only in January"},
		{"@daily", "At 00:00"},
		{"@hourly", "Every hour"},
		{"@weekly", "At 00:00, only on Sunday"},
		{"@yearly", "At 00:00 on day 1 of the month, only in January"},
		{"@every_second", "Every second"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := Describe(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Describe(%q)\n got %q\nwant %q", tt.expr, got, tt.want)
			}
		})
	}
}
