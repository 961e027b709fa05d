"""From applicant to graduate, pure parts (no aiogram, no database): checking answers to
the extra sign-up questions, trainee progress and attendance streaks, the programme
report's tables, and the certificate PDF.
"""
