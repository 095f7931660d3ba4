/* Placeholder agent: replaced by the real agent (issue 3). */
int main(void) { return 0; }
